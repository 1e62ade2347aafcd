// What a transport's send reports, shared by the publish/subscribe and the control seams.
#pragma once

namespace weft::detail {

// kFull: a high-water mark refused it (nothing was sent; try again later). kFailed: the transport cannot send
// it at all (closed, or the peer is gone).
enum class SendResult { kSent, kFull, kFailed };

}  // namespace weft::detail
