#include "captp/internal/remote.h"

#include <fmt/format.h>

#include <utility>

#include "captp/internal/wire.h"
#include "vat/message.h"
#include "vat/promise_state.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::Ptr;
using detail::RefKind;

ImportHandler::ImportHandler(Vat* home, Ptr<Session> s, std::uint32_t id)
    : Handler(home), session_(std::move(s)), id_(id) {}

ImportHandler::~ImportHandler() { session_->import_dropped(id_); }

void ImportHandler::deliver(MessagePtr m) { session_->send_call(Target{false, id_, {}}, std::move(m)); }

RefKind ImportHandler::kind() const noexcept { return session_->is_open() ? RefKind::far : RefKind::broken; }

namespace {

// Keeps a handler alive until the promise it listens to settles.
class KeepUntilSettled final : public detail::Listener {
 public:
  explicit KeepUntilSettled(HandlerPtr h) : h_(std::move(h)) {}
  // Not an interest in the outcome: the promise's own holders are.
  bool wanted() const noexcept override { return false; }

 private:
  HandlerPtr h_;
};

}  // namespace

RemotePromise::RemotePromise(Vat* home, Ptr<Session> s, Target t, bool import)
    : Handler(home), session_(std::move(s)), target_(std::move(t)), import_(import) {}

Ptr<RemotePromise> RemotePromise::for_answer(Vat* home, Ptr<Session> s, std::uint32_t qid,
                                             std::vector<std::string> path) {
  return Ptr<RemotePromise>(new RemotePromise(home, std::move(s), Target{true, qid, std::move(path)}, false));
}

Ptr<RemotePromise> RemotePromise::for_import(Vat* home, Ptr<Session> s, std::uint32_t import_id) {
  return Ptr<RemotePromise>(new RemotePromise(home, std::move(s), Target{false, import_id, {}}, true));
}

RemotePromise::~RemotePromise() {
  session_->remote_promise_dropped(this);
  if (import_) session_->import_dropped(target_.id);
  // Messages held by an embargo that can no longer lift break (Message's destructor).
}

RefKind RemotePromise::kind() const noexcept {
  switch (state_) {
    case State::pending:
    case State::embargoed: return session_->is_open() ? RefKind::promise : RefKind::broken;
    case State::resolved: return data_ ? RefKind::broken : resolved_->kind();
    case State::broken: return RefKind::broken;
  }
  return RefKind::broken;
}

bool RemotePromise::answer_when_resolved(MessagePtr& m) {
  switch (state_) {
    case State::pending:
      // The peer resolves an exported promise unasked (a resolve follows
      // every senderPromise): wait for it here instead of asking.
      if (!import_ || !session_->is_open()) return false;
      if (auto r = m->take_result()) {
        // Messages sent to the answer meanwhile still go to the peer's
        // promise at once (pipelining), and sending the answer back to the
        // peer names its own export.
        r->forward_to(HandlerPtr(this));
        r->listen(std::make_unique<KeepUntilSettled>(HandlerPtr(this)));
        waiting_.push_back(std::move(r));
      }
      return true;
    case State::resolved: {
      Value outcome;
      if (data_) {
        if (!import_) return false;  // an answer's data lives in its question
        outcome = value_;
      } else if (resolved_->kind() == RefKind::far || resolved_->kind() == RefKind::near) {
        // An object is its own resolution (spec/model.md, Miranda methods):
        // no need to ask its vat.
        outcome = Value(Capability{resolved_, nullptr, false});
      } else {
        return false;
      }
      if (auto r = m->take_result()) r->settle_from_value(outcome);
      return true;
    }
    case State::embargoed:
    case State::broken: return false;
  }
  return false;
}

void RemotePromise::deliver(MessagePtr m) {
  if (m->asks_when_resolved() && answer_when_resolved(m)) return;
  switch (state_) {
    case State::pending:
      if (!session_->is_open()) return detail::break_message(std::move(m), session_->broken_error());
      {
        // spec/captp.md 5, "One path, one record": a path is kept once a
        // call went along it (one refused before it was sent leaves nothing
        // to keep), and at most max_kept_paths per answer (7, Sending).
        bool keep = !kept_ && !import_ && !target_.path.empty();
        if (keep && !session_->may_keep_path(target_.id))
          return detail::break_message(
              std::move(m),
              Error{ErrorKind::overloaded, fmt::format("calls went along more than {} paths into one pending answer",
                                                       session_->options().max_kept_paths)});
        used_ = true;
        if (session_->send_call(target_, std::move(m)) && keep) {
          kept_ = true;
          session_->keep_used_path(this);
        }
        return;
      }
    case State::embargoed: queued_.push(m.release()); return;
    case State::resolved:
      if (data_)
        return detail::break_message(
            std::move(m), Error{ErrorKind::failed, "message sent to a promise that resolved to data, not a reference"});
      resolved_->deliver(std::move(m));
      return;
    case State::broken: detail::break_message(std::move(m), error_); return;
  }
}

HandlerPtr RemotePromise::pipeline_field(const std::string& name) {
  if (state_ == State::pending && !import_ && session_->is_open()) {
    if (target_.path.size() >= static_cast<std::size_t>(kMaxValueDepth)) {
      // captp.md 7, Paths: the peer would abort the session for a longer path.
      auto broken = detail::make_ptr<detail::PromiseState<Value>>(home());
      broken->break_with(Error{ErrorKind::failed, fmt::format("pipelined path longer than {} fields", kMaxValueDepth)});
      return broken;
    }
    std::vector<std::string> path = target_.path;
    path.push_back(name);
    if (RemotePromise* same = session_->path_handler(target_.id, path)) return HandlerPtr(same);
    auto child = RemotePromise::for_answer(home(), session_, target_.id, std::move(path));
    session_->attach_path(child.get());
    return child;
  }
  if (state_ == State::resolved && !data_) return resolved_->pipeline_field(name);
  return Handler::pipeline_field(name);
}

bool RemotePromise::pipelines_fields() const noexcept {
  // As pipeline_field(): a path sent on, or the resolution's own answer.
  if (state_ == State::pending && !import_ && session_->is_open()) return true;
  return state_ == State::resolved && !data_ && resolved_->pipelines_fields();
}

void RemotePromise::settle_fields() {
  for (const auto& f : std::exchange(fields_, {}))
    if (f->state_ == State::embargoed) embargoed_paths_.push_back(f->target_.path);
}

RemotePromise* RemotePromise::embargoed_field(const detail::PromiseBase& result) {
  const Value* record = result.value_if_value();
  // A typed result (a method's struct, say) holds its record encoded: the
  // references in it are the same handlers. Rare: paths embargoed when the
  // question returned.
  Value converted;
  if (!record && !embargoed_paths_.empty() && result.status() == detail::PromiseBase::Status::fulfilled) {
    try {
      converted = result.value_as_value();
      record = &converted;
    } catch (...) {
      // A value its own codec cannot encode holds no reference to wait for.
    }
  }
  while (!embargoed_paths_.empty()) {
    const Value* v = record;
    for (auto& name : embargoed_paths_.back())
      if (v) v = v->type() == Value::Type::record ? v->as_record().find(name) : nullptr;
    auto* f = v && v->type() == Value::Type::reference ? dynamic_cast<RemotePromise*>(v->as_capability().handler.get())
                                                       : nullptr;
    if (f && f->state_ == State::embargoed) return f;
    embargoed_paths_.pop_back();  // lifted (or gone): nothing to wait for there any more
  }
  return nullptr;
}

void RemotePromise::resolve_data() {
  if (state_ != State::pending) return;
  state_ = State::resolved;
  data_ = true;
}

void RemotePromise::resolve_import(Value v) {
  if (v.type() == Value::Type::reference) {
    resolve(v.as_capability().handler);
  } else {
    if (state_ == State::pending) value_ = std::move(v);
    resolve_data();
  }
  // Whoever asked meanwhile learns the outcome now, as if asking now: from
  // the value, from the object, or after the embargo.
  for (auto& r : std::exchange(waiting_, {}))
    r->follow(detail::send_by_name(*this, std::string(detail::kWhenResolved), {}).state());
}

void RemotePromise::break_with(const Error& e) {
  if (state_ == State::resolved || state_ == State::broken) return;
  Ptr<RemotePromise> keep = std::move(self_);  // an embargo that will not lift
  error_ = e;
  state_ = State::broken;
  while (detail::Turn* t = queued_.pop()) detail::break_message(MessagePtr(static_cast<detail::Message*>(t)), error_);
  // The paths kept for the record settle (or broke) with the question: they
  // need not live on in a broken promise.
  auto fields = std::exchange(fields_, {});
  // Nothing is held for them any more (and on a closed session nothing is sent).
  for (auto& [s, eid] : std::exchange(loopbacks_, {})) s->reply_loopback(HandlerPtr(this), eid);
  for (auto& d : std::exchange(resolves_, {})) d.session->resolve_after_embargo(d.id, d.serial, d.answer);
  for (auto& r : std::exchange(waiting_, {})) r->break_with(error_);
}

}  // namespace vatic::captp
