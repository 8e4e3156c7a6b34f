// One handler per CapTP operation received from the peer (spec/captp.md,
// "Operations"). Each validates ids against the session's tables first: an id
// the session never issued, or one still in use, is a protocol violation and
// aborts the session (ProtocolError), never a crash or a silent no-op.
#include <fmt/format.h>

#include "captp/internal/net/channel.h"
#include "captp/internal/remote.h"
#include "vat/message.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::PromiseBase;
using detail::Ptr;

namespace {

// Sends the answer back when the local result settles.
class ReturnListener final : public detail::Listener {
 public:
  ReturnListener(Ptr<Session> s, std::uint32_t qid, std::uint64_t serial)
      : s_(std::move(s)), qid_(qid), serial_(serial) {}
  void settled(PromiseBase& p) override { s_->deliver_return(qid_, serial_, p); }
  // Only while the peer waits for the answer (captp.md "finish"): a result
  // forwarded to a question of ours, whose caller finished or whose session
  // ended, must not keep that question from being finished in turn.
  bool wanted() const noexcept override { return s_->awaits_return(qid_, serial_); }
  void run() override {}

 private:
  Ptr<Session> s_;
  std::uint32_t qid_;
  std::uint64_t serial_;
};

std::vector<std::string> read_path(capnp::List<capnp::Text>::Reader path) {
  if (path.size() > kMaxValueDepth) throw ProtocolError("promised-answer path too long");
  std::vector<std::string> out;
  out.reserve(path.size());
  for (auto p : path) out.emplace_back(p.cStr(), p.size());
  return out;
}

// The field of `v` at `path`, or null.
Value* field_at(Value& v, const std::vector<std::string>& path) {
  Value* at = &v;
  for (auto& name : path) {
    if (at->type() != Value::Type::record) return nullptr;
    Value* next = nullptr;
    for (auto& [n, f] : at->as_record().fields)
      if (n == name) {
        next = &f;
        break;
      }
    if (!next) return nullptr;
    at = next;
  }
  return at;
}

}  // namespace

void Session::new_answer(std::uint32_t qid, Ptr<PromiseBase> result, bool standing, Answer::Handoff handoff) {
  if (answers_.find(qid)) throw ProtocolError(fmt::format("question id {} reused while still in use", qid));
  std::uint64_t serial = ++answer_serial_;
  if (!answers_.insert(qid, Answer{result, serial, false, standing, handoff}))
    throw ProtocolError(fmt::format("question id {} out of range", qid));
  if (handoff != Answer::Handoff::provide) ++(standing ? standing_ : unanswered_);
  result->listen(std::make_unique<ReturnListener>(Ptr<Session>(this), qid, serial));
}

HandlerPtr Session::resolve_target(wire::MessageTarget::Reader t) {
  switch (t.which()) {
    case wire::MessageTarget::IMPORTED_CAP: {
      std::uint32_t id = t.getImportedCap();
      Export* e = exports_.find(id);
      if (!e) throw ProtocolError(fmt::format("message to unknown export id {}", id));
      return e->target;
    }
    case wire::MessageTarget::PROMISED_ANSWER: {
      auto pa = t.getPromisedAnswer();
      Answer* a = answers_.find(pa.getQuestionId());
      if (!a) throw ProtocolError(fmt::format("message to unknown answer {}", pa.getQuestionId()));
      HandlerPtr h = a->result;
      for (auto& name : read_path(pa.getPath())) h = h->pipeline_field(name);
      return h;
    }
  }
  throw ProtocolError("message target of an unknown kind");
}

void Session::on_bootstrap(wire::Bootstrap::Reader m) {
  auto result = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  new_answer(m.getQuestionId(), result);
  if (bootstrap_) {
    result->fulfill(Value(Capability{bootstrap_, nullptr, bootstrap_->kind() == detail::RefKind::promise}));
  } else {
    result->break_with(Error{ErrorKind::unimplemented, "this vat offers no bootstrap object"});
  }
}

void Session::on_call(wire::Call::Reader m) {
  HandlerPtr target = resolve_target(m.getTarget());
  auto method_text = m.getMethod();
  std::string method(method_text.cStr(), method_text.size());
  CapCodec caps(*this);
  std::vector<Value> args;
  auto in = m.getArgs();
  if (has_unknown_cap(in)) {
    // spec/captp.md 4: a reference of a newer kind; nothing in the call was
    // counted or delivered.
    return send([&](wire::Message::Builder out) { out.initUnimplemented().setCall(m); });
  }
  args.reserve(in.size());
  for (auto a : in) args.push_back(read_value(a, caps));
  auto result = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  if (m.getSendReturn() && method == detail::kWhenBroken) {
    // Monitors answer only when their target breaks, so they would fill the
    // answers other calls need (flow_control.cpp); they are capped on their own.
    if (standing_ >= options_.max_answers) {
      new_answer(m.getQuestionId(), result);
      result->break_with(Error{ErrorKind::overloaded, "too many monitors from this peer"});
      return;
    }
    new_answer(m.getQuestionId(), result, /*standing=*/true);
    auto msg = std::make_unique<detail::DynamicMessage>(std::move(result), std::move(method), std::move(args));
    msg->set_sender(peer_label_);
    return target->deliver(std::move(msg));
  }
  auto msg = std::make_unique<detail::DynamicMessage>(std::move(result), std::move(method), std::move(args));
  msg->set_sender(peer_label_);
  std::optional<std::uint32_t> qid;
  if (m.getSendReturn()) qid = m.getQuestionId();
  deliver_call(std::move(target), std::move(msg), qid);
}

void Session::deliver_return(std::uint32_t qid, std::uint64_t serial, PromiseBase& p) {
  Answer* a = answers_.find(qid);
  if (!open_ || !a || a->serial != serial || a->returned) return;  // finished (canceled) or session gone
  // spec/captp.md 5, "The resolve waits for the embargo", for a return: the
  // calls the peer pipelined on this answer may still be held by an embargo
  // of ours on their path (the answer is a call we forwarded as a question,
  // which settled to an object of this vat while those calls travel back).
  // Returned now, the result names that object (`senderHosted`, the same
  // path), and the peer's next calls go straight to it, overtaking them.
  if (resolve_waits(p, qid, serial, /*answer=*/true)) return;
  a->returned = true;
  Answer done = *a;
  write_return(qid, p);
  answer_done(done);
}

bool Session::awaits_return(std::uint32_t qid, std::uint64_t serial) const noexcept {
  const Answer* a = answers_.find(qid);
  return open_ && a && a->serial == serial && !a->returned;
}

void Session::write_return(std::uint32_t qid, PromiseBase& p) {
  CapCodec caps(*this);
  auto write = [&](auto fill) {
    send([&](wire::Message::Builder out) {
      auto r = out.initReturn();
      r.setAnswerId(qid);
      fill(r);
    });
  };
  if (p.status() == PromiseBase::Status::broken) {
    write([&](wire::Return::Builder r) { write_error(p.error(), r.initError()); });
    return;
  }
  try {
    // An answer to a call by name is stored as a Value: written from where it
    // is, so a bulk result is copied once, into the outgoing frame.
    const Value* v = p.value_if_value();
    Value converted;
    if (!v) {
      converted = p.value_as_value();
      v = &converted;
    }
    write([&](wire::Return::Builder r) { write_value(*v, r.initValue(), caps); });
  } catch (...) {
    Error e = error_from_exception(std::current_exception());
    write([&](wire::Return::Builder r) { write_error(e, r.initError()); });
  }
}

void Session::on_return(wire::Return::Reader m) {
  std::uint32_t qid = m.getAnswerId();
  Question* q = questions_.find(qid);
  if (!q || q->returned) throw ProtocolError(fmt::format("return for unknown question {}", qid));
  CapCodec caps(*this);
  std::optional<Value> value;
  Error error;
  switch (m.which()) {
    case wire::Return::VALUE: value = read_value(m.getValue(), caps); break;
    case wire::Return::ERROR: error = read_error(m.getError()); break;
    case wire::Return::CANCELED:
      if (!q->canceled) throw ProtocolError(fmt::format("question {} canceled by the callee", qid));
      error = Error{ErrorKind::failed, "canceled"};
      break;
    default: throw ProtocolError("return of an unknown kind");
  }
  bool canceled = q->canceled;
  provide_qids_.erase(qid);  // a provide's outcome (H13): the provision is over
  // Settling below runs code that may send new calls: the id must not be
  // reused before our finish for it is out.
  Question done = std::move(*q);
  q->returned = true;
  // Settling runs listeners, which may drop the last reference to a path
  // handler into this answer: hold them all until each is resolved.
  std::vector<Ptr<RemotePromise>> held(done.handlers.begin(), done.handlers.end());
  // The handlers settle first, so that whatever the result's settling runs
  // (the resolve of an export of it, say) sees whether an embargo now holds
  // the messages sent to it (spec/captp.md 5, "The resolve waits for the embargo").
  for (const Ptr<RemotePromise>& h : held) {
    if (!value) {
      h->break_with(error);
      continue;
    }
    const Value* v = &*value;
    for (auto& name : h->target().path) {
      const Value* f = v->type() == Value::Type::record ? v->as_record().find(name) : nullptr;
      if (!f) {
        v = nullptr;
        break;
      }
      v = f;
    }
    if (!v) {
      h->break_with(Error{ErrorKind::failed, "pipelined field missing from the answer"});
    } else if (v->type() == Value::Type::reference) {
      h->resolve(v->as_capability().handler);
    } else {
      h->resolve(nullptr);
    }
  }
  // spec/captp.md 5, Embargo, "One path, one record": a path along which
  // calls went and whose resolution is embargoed stays the way to that field
  // for the result too (a call the peer pipelines on that path into an
  // answer of ours that forwarded to this question must wait behind the
  // ones we sent on, and that answer's return waits: resolve_waits).
  for (const Ptr<RemotePromise>& h : held) h->settle_fields();
  if (done.result) {
    if (value)
      for (const Ptr<RemotePromise>& h : held)
        if (!h->target().path.empty() && h->state() == RemotePromise::State::embargoed)
          if (Value* f = field_at(*value, h->target().path)) *f = Value(Capability{h, nullptr, true});
    if (value)
      done.result->settle_from_owned_value(std::move(*value));  // the bulk of a result moves, not copies
    else
      done.result->break_with(error);
  }
  // Only now (after any disembargo naming this answer went out) may the peer
  // forget it: later calls go to the resolution instead.
  if (!canceled) send([&](wire::Message::Builder out) { out.initFinish().setQuestionId(qid); }, /*lazy=*/true);
  questions_.take(qid);
}

void Session::on_finish(wire::Finish::Reader m) {
  std::uint32_t qid = m.getQuestionId();
  Answer* a = answers_.find(qid);
  if (!a) throw ProtocolError(fmt::format("finish for unknown question {}", qid));
  auto gone = answers_.take(qid);  // drops the result here, after the table is consistent
  if (!gone->returned) {
    // captp.md "finish": nobody wants the answer; with `cancel` negotiated
    // the method may see it (vat/cancel.h) and stop.
    if (negotiated_.has(Feature::cancel)) gone->result->request_cancel();
    send([&](wire::Message::Builder out) {
      auto r = out.initReturn();
      r.setAnswerId(qid);
      r.setCanceled();
    });
    answer_done(*gone);
    // spec/captp.md 11, H13 and H14: a provide canceled by its provider, an
    // accept its recipient gave up.
    if (provisions_ && gone->handoff == Answer::Handoff::provide) provisions_->provide_finished(*this, qid);
    if (provisions_ && gone->handoff == Answer::Handoff::accept) provisions_->accept_finished(*this, qid);
  }
}

void Session::on_resolve(wire::Resolve::Reader m) {
  std::uint32_t id = m.getPromiseId();
  Import* imp = imports_.find(id);
  CapCodec caps(*this);
  if (!imp && released_promises_.erase(id)) {
    // spec/captp.md, "resolve": our release of this promise crossed the
    // peer's resolve of it. Nothing here waits for it any more; the references
    // it carries are imported and released again at once (as Cap'n Proto does).
    if (m.isValue()) (void)read_value(m.getValue(), caps);
    return;
  }
  if (!imp) throw ProtocolError(fmt::format("resolve of unknown import {}", id));
  auto* p = dynamic_cast<RemotePromise*>(imp->handler);
  if (!p && imp->handler) throw ProtocolError(fmt::format("resolve of import {}, which is not a promise", id));
  // captp.md 3, resolve: sent once per promise export.
  if (imp->resolved) throw ProtocolError(fmt::format("second resolve of promise import {}", id));
  imp->resolved = true;
  if (m.isError()) {
    if (p) p->break_with(read_error(m.getError()));
    return;
  }
  Value v = read_value(m.getValue(), caps);
  if (!p) return;  // already dropped: the decoded value releases what it imported
  // captp.md 4, Promises as values: the value itself, so that nobody here
  // asks the peer for it again.
  p->resolve_import(std::move(v));
}

void Session::on_release(wire::Release::Reader m) { release_export(m.getId(), m.getCount()); }

void Session::on_unimplemented(wire::Message::Reader m) {
  // The peer did not understand one of our messages. Only calls carry a
  // promise to break; anything else means the peer cannot follow the protocol.
  if (m.isCall()) {
    std::uint32_t qid = m.getCall().getQuestionId();
    if (Question* q = questions_.find(qid); q && !q->returned) {
      undo_echoed_call(m.getCall());
      Question done = std::move(*questions_.take(qid));
      // As in on_return: breaking runs listeners that may drop a handler.
      std::vector<Ptr<RemotePromise>> held(done.handlers.begin(), done.handlers.end());
      Error e{ErrorKind::unimplemented, "the peer did not understand the call"};
      if (done.result) done.result->break_with(e);
      for (const Ptr<RemotePromise>& h : held) h->break_with(e);
    }
    return;
  }
  throw ProtocolError("the peer does not implement a required operation");
}

}  // namespace vatic::captp
