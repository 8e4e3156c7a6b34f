// Remote references: the handlers through which a vat reaches objects in the
// peer's vat. An ImportHandler stands for an object the peer exported; sends to
// it become calls. A RemotePromise stands for something not yet known: the
// answer to one of our questions (optionally a field path into it) or a
// promise the peer exported. Until it settles, sends go to the peer as
// pipelined calls; once it settles they go straight to the resolution, unless
// that would overtake calls still in flight along the old path, in which case
// they wait for an embargo to lift (embargo.cpp). A promise import answers
// `__whenResolved` itself, from the resolve that the peer sends unasked
// (spec/captp.md 4, "Promises as values"): learning the outcome costs no call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "captp/internal/session.h"
#include "vat/handler.h"

namespace vatic::captp {

class ImportHandler final : public detail::Handler {
 public:
  ImportHandler(Vat* home, detail::Ptr<Session> s, std::uint32_t id);
  ~ImportHandler() override;

  void deliver(detail::MessagePtr m) override;
  detail::RefKind kind() const noexcept override;
  std::uint32_t id() const noexcept { return id_; }
  const Session* session() const noexcept { return session_.get(); }
  // The session itself, for an introducer that provides this import to a
  // third vat (spec/captp.md 11, H3).
  const detail::Ptr<Session>& session_ptr() const noexcept { return session_; }

 private:
  detail::Ptr<Session> session_;
  std::uint32_t id_;
};

class RemotePromise final : public detail::Handler {
 public:
  enum class State : unsigned char { pending, embargoed, resolved, broken };

  // The answer to question `qid` (path into it), or the peer's promise export `import_id`.
  static detail::Ptr<RemotePromise> for_answer(Vat* home, detail::Ptr<Session> s, std::uint32_t qid,
                                               std::vector<std::string> path);
  static detail::Ptr<RemotePromise> for_import(Vat* home, detail::Ptr<Session> s, std::uint32_t import_id);
  ~RemotePromise() override;

  void deliver(detail::MessagePtr m) override;
  detail::RefKind kind() const noexcept override;
  detail::HandlerPtr pipeline_field(const std::string& name) override;
  bool pipelines_fields() const noexcept override;

  // Settles: to `target` (null for data) or to `error`.
  void resolve(detail::HandlerPtr target);
  void resolve_data();
  // A promise import settles with the value of the peer's resolve: a
  // reference is resolved to, data is kept to answer `__whenResolved`.
  void resolve_import(Value v);
  void break_with(const Error& e);
  // The embargo started by resolve() has lifted (or the session ended).
  void lift_embargo();
  // The disembargo `eid` of the peer of session `s` (ours, or another that
  // forwards to us) came along a path through us while we hold calls: it is
  // answered once they are delivered (embargo.cpp).
  void defer_loopback(detail::Ptr<Session> s, std::uint32_t eid) { loopbacks_.emplace_back(std::move(s), eid); }
  // Export `id` of session `s` is a local promise whose messages reach us
  // while we hold calls: its resolve waits for the lift (embargo.cpp). With
  // `answer`, `id` is an answer of `s` and its return waits the same way.
  void defer_resolve(detail::Ptr<Session> s, std::uint32_t id, std::uint64_t serial, bool answer) {
    resolves_.push_back(DeferredResolve{std::move(s), id, serial, answer});
  }

  // spec/captp.md 5, Embargo, "One path, one record": a path into our
  // question along which a call went lives as long as the question's own
  // handler (this one), though the call that went along it held it only for
  // the send (a call the peer pipelined on a path into an answer we
  // forwarded as this question): its settling must see that a call went
  // along it, and later calls to that path must meet its embargo.
  void keep_field(detail::Ptr<RemotePromise> p) { fields_.push_back(std::move(p)); }
  bool keeps_field(const RemotePromise* p) const noexcept {
    for (const auto& f : fields_)
      if (f.get() == p) return true;
    return false;
  }
  // The question returned and those paths are settled: the ones that
  // embargo are remembered by path only (the result's record holds them,
  // on_return), so that nothing here keeps them (or what they lead to).
  void settle_fields();
  // One of those paths that still holds calls under its embargo, as the
  // record `result` (the question's local result) holds it; null if none.
  RemotePromise* embargoed_field(const detail::PromiseBase& result);

  State state() const noexcept { return state_; }
  const Target& target() const noexcept { return target_; }
  bool is_import() const noexcept { return import_; }
  const Session* session() const noexcept { return session_.get(); }
  const detail::Ptr<Session>& session_ptr() const noexcept { return session_; }
  detail::Handler* resolution() const noexcept { return resolved_.get(); }
  detail::Handler* forwards_to() const noexcept override {
    return (state_ == State::resolved || state_ == State::embargoed) && !data_ ? resolved_.get() : nullptr;
  }
  std::optional<std::uint32_t> embargo_id;

 private:
  RemotePromise(Vat* home, detail::Ptr<Session> s, Target t, bool import);

  // How calls sent straight to a resolution travel compared with the calls
  // already sent along our promised path (spec/captp.md 5, Embargo):
  // `same`: they meet at one object of the peer, in order on this session;
  // `merge`: they meet in a pending promise of the peer (`merge_into`, ours
  // for it), which embargoes in turn if it later settles off the session;
  // `settled`: calls break (data or an error), nothing to order;
  // `other`: anything else, a local promise even if it forwards to the peer.
  enum class Path : unsigned char { same, merge, settled, other };
  Path path_to(detail::Handler* h, RemotePromise** merge_into) const noexcept;

  detail::Ptr<Session> session_;
  Target target_;
  bool import_;
  bool used_ = false;  // a call went out along the pending path
  bool kept_ = false;  // the question's handler keeps this path (Session::keep_used_path)
  State state_ = State::pending;
  // Answers a `__whenResolved` here when the outcome is known without asking
  // the peer; false when the message must travel on.
  bool answer_when_resolved(detail::MessagePtr& m);

  detail::HandlerPtr resolved_;
  bool data_ = false;
  Value value_;  // the data a promise import resolved to
  Error error_;
  detail::TurnQueue queued_;  // messages held during an embargo
  // While embargoed, the promise keeps itself alive: the calls it holds were
  // sent before its last reference went (the peer's finish of an answer that
  // forwarded to it, say) and must still reach the resolution. The lift or
  // the session's end lets go.
  detail::Ptr<RemotePromise> self_;
  std::vector<std::pair<detail::Ptr<Session>, std::uint32_t>> loopbacks_;  // see defer_loopback
  struct DeferredResolve {
    detail::Ptr<Session> session;
    std::uint32_t id;
    std::uint64_t serial;
    bool answer;  // `id` is an answer whose return waits, not an export
  };
  std::vector<DeferredResolve> resolves_;                  // see defer_resolve
  std::vector<detail::Ptr<RemotePromise>> fields_;         // see keep_field
  std::vector<std::vector<std::string>> embargoed_paths_;  // see settle_fields
  // The answers of `__whenResolved` asked of a pending promise import. Each
  // keeps this promise alive until it settles (the resolve, or the session's
  // end, settles it).
  std::vector<detail::Ptr<detail::PromiseBase>> waiting_;
};

}  // namespace vatic::captp
