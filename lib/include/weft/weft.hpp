// Everything a Weft application needs.
#pragma once

#include "weft/message.hpp"
#include "weft/node.hpp"
#include "weft/options.hpp"
#include "weft/peer.hpp"
#include "weft/stats.hpp"
#include "weft/status.hpp"
#include "weft/subject.hpp"
#include "weft/subscription.hpp"
#include "weft/version.hpp"
