// The dispatcher's at-least-once path: a control message's deliveries, each run through its subscription's
// handler and settled after it (acknowledged, or nak'd when the handler threw), with duplicates suppressed.
#include <exception>
#include <string>

#include "node/dispatcher.hpp"
#include "reliable/delivery_ref.hpp"
#include "weft/subject.hpp"

namespace weft::detail {

namespace {

// Decodes the envelopes of a delivery body (unlike a publish/subscribe frame, they may differ in subject).
bool decode_deliveries(std::span<const std::byte> body, std::vector<EnvelopeView>& out,
                       std::vector<std::vector<HeaderRef>>& headers, std::string& problem) {
  out.clear();
  headers.clear();
  std::size_t offset = 0;
  std::vector<HeaderRef> scratch;
  while (offset < body.size()) {
    EnvelopeView view;
    DecodeResult result = decode_envelope(body, offset, view, scratch);
    if (!result.ok()) {
      problem = result.detail;
      return false;
    }
    if (Status valid = validate_subject(view.subject); !valid) {
      problem = valid.message();
      return false;
    }
    headers.push_back(scratch);
    out.push_back(view);
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i].headers = headers[i];
  return true;
}

}  // namespace

void Dispatcher::dispatch_reliable(DispatchItem& item) {
  NodeContext& context = *context_;
  const ReliableMeta& meta = *item.reliable;
  std::span<const std::byte> body(static_cast<const std::byte*>(item.frames.body.data()), item.frames.body.size());
  std::vector<EnvelopeView> envelopes;
  std::vector<std::vector<HeaderRef>> headers;
  std::string problem;
  decisions_.clear();
  auto decide = [&](const ReliableMeta::Item& it, AckDecision::Kind kind, std::string reason) {
    AckDecision d;
    d.kind = kind;
    d.subscription_id = meta.subscription_id;
    d.session = meta.session;
    d.link = meta.link;
    d.dseq = it.dseq;
    d.attempt = it.attempt;
    d.reason = std::move(reason);
    decisions_.push_back(std::move(d));
  };
  auto finish = [&] {
    if (decisions_.empty()) return;
    context.acks.push(decisions_);
    context.io_wake.notify();
  };

  if (!decode_deliveries(body, envelopes, headers, problem) || envelopes.size() != meta.items.size()) {
    // Not deliverable as sent: nak every one, so the publisher tries again (and dead-letters in the end).
    NodeCounters::add(context.counters.bad_envelope);
    context.limited_log.warn(kLogBadEnvelope, "an at-least-once delivery does not decode: " +
                                                  (problem.empty() ? "envelope count mismatch" : problem));
    for (const auto& it : meta.items) decide(it, AckDecision::Kind::kNak, "undecodable: " + problem);
    return finish();
  }

  // The subscription the deliveries are for, looked up by id (not matched: the publisher did that).
  std::shared_ptr<SubscriptionState> subscription;
  for (const auto& s : *context.registry.snapshot()) {
    if (s->id() == meta.subscription_id) subscription = s;
  }
  if (!subscription || !subscription->reliable()) {
    for (const auto& it : meta.items) decide(it, AckDecision::Kind::kNak, "the subscription is gone");
    return finish();
  }
  ReliableSubscription& reliable = *subscription->reliable();
  const bool manual = reliable.options.ack == AckPolicy::kManual;
  const std::string& key_header = reliable.options.idempotency_header;
  std::size_t delivered = 0;

  subscription->with_handler([&](Handler& handler) {
    const auto now = context.clock.now();
    for (std::size_t i = 0; i < envelopes.size(); ++i) {
      const EnvelopeView& envelope = envelopes[i];
      const ReliableMeta::Item& it = meta.items[i];
      if (!subscription->active()) {
        decide(it, AckDecision::Kind::kNak, "unsubscribed");
        continue;
      }
      std::optional<std::string_view> idempotency_key;
      if (!key_header.empty()) idempotency_key = HeadersView(envelope.headers).get(key_header);
      if (reliable.deduper.seen(envelope.stream, envelope.sequence) ||
          (idempotency_key && reliable.deduper.seen_key(*idempotency_key, now))) {
        NodeCounters::add(context.counters.reliable_suppressed);
        decide(it, AckDecision::Kind::kAck, {});
        continue;
      }
      DeliveryRef ref;
      ref.node = context_;
      ref.decision.subscription_id = meta.subscription_id;
      ref.decision.session = meta.session;
      ref.decision.link = meta.link;
      ref.decision.dseq = it.dseq;
      ref.decision.attempt = it.attempt;
      Message message = envelope.as_message();
      message.set_delivery(&ref);
      ++delivered;
      std::string failure;
      try {
        handler(message);
      } catch (const std::exception& e) {
        failure = std::string("the handler threw: ") + e.what();
      } catch (...) {
        failure = "the handler threw a non-standard exception";
      }
      if (!failure.empty()) {
        subscription->count_exception();
        NodeCounters::add(context.counters.handler_exceptions);
        context.limited_log.warn(kLogHandlerException, "a handler for '" + subscription->pattern() + "': " + failure);
      }
      if (manual && failure.empty()) continue;  // the application settles it (or the ack wait runs out)
      if (ref.settled && ref.settled->exchange(true)) continue;  // settled by hand inside the handler
      if (failure.empty()) {
        // Remembered only once handled: a nak'd message must not be taken for a duplicate when it returns.
        reliable.deduper.remember(envelope.stream, envelope.sequence);
        if (idempotency_key) reliable.deduper.remember_key(*idempotency_key, now);
        decide(it, AckDecision::Kind::kAck, {});
      } else {
        decide(it, AckDecision::Kind::kNak, failure);
      }
    }
  });
  subscription->count_delivered(delivered);
  NodeCounters::add(context.counters.delivered, delivered);
  finish();
}

}  // namespace weft::detail
