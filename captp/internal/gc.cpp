// References crossing the session, and distributed GC with counts.
//
// Writing a reference: one of the peer's own (an import, or the answer to one
// of our questions) is named in the peer's terms; anything else is exported,
// under the same id as long as it stays exported (so the peer sees one import
// per object), and its count goes up by one. Reading one: an export id of the
// peer becomes an import (one handler per id) whose count goes up by one. When
// the import's handler dies, a release with the count received goes back; the
// exporter subtracts it and forgets the export only at zero, so a reference
// sent again while the release was in flight stays valid.
//
// Promises (spec/captp.md 4, "Promises as values"): every promise of this vat
// not fulfilled with a reference goes as senderPromise and is resolved unasked,
// right after the message if it has settled already (resolves_due_). Once its
// resolve is out, the promise no longer maps to that id: sending it again
// exports it anew, with a resolve of its own.
#include <fmt/format.h>

#include "captp/internal/remote.h"
#include "vat/message.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::Handler;
using detail::HandlerPtr;
using detail::PromiseBase;
using detail::Ptr;

namespace {

// Sends a Resolve when an exported local promise settles.
class ResolveListener final : public detail::Listener {
 public:
  ResolveListener(Ptr<Session> s, std::uint32_t id, std::uint64_t serial)
      : s_(std::move(s)), id_(id), serial_(serial) {}
  void settled(PromiseBase& p) override { s_->export_settled(id_, serial_, p); }
  void run() override {}

 private:
  Ptr<Session> s_;
  std::uint32_t id_;
  std::uint64_t serial_;
};

// Follows local forwarding so that a promise already resolved to a reference
// is sent as that reference (no Resolve round trip), and a promise following
// another local promise is sent as the one it follows. It stops at a pending
// promise whose messages go on to a remote handler (a call's result waiting
// for its answer): that promise is what settles here, so it is what we export
// (or, when the handler is the peer's own, what write_cap names in its terms).
Handler* settle_local(Handler* h) {
  for (int steps = 0; h && steps < (1 << 20); ++steps) {
    PromiseBase* p = h->as_promise();
    if (!p || !p->forward()) break;
    if (p->pending() && !p->forward()->as_promise()) break;
    h = p->forward();
  }
  return h;
}

// Calls f on every reference in `v` (to the depth read_value accepts).
template <class F>
void for_each_cap(wire::Value::Reader v, F& f, int depth = 0) {
  if (depth > kMaxValueDepth) return;  // read_value refuses the value
  switch (v.which()) {
    case wire::Value::LIST:
      for (auto item : v.getList()) for_each_cap(item, f, depth + 1);
      return;
    case wire::Value::RECORD:
      for (auto field : v.getRecord().getFields()) for_each_cap(field.getValue(), f, depth + 1);
      return;
    case wire::Value::CAP: f(v.getCap()); return;
    default: return;
  }
}

bool known_arm(wire::CapDescriptor::Reader c, bool handoff) {
  switch (c.which()) {
    case wire::CapDescriptor::SENDER_HOSTED:
    case wire::CapDescriptor::SENDER_PROMISE:
    case wire::CapDescriptor::RECEIVER_HOSTED:
    case wire::CapDescriptor::RECEIVER_ANSWER: return true;
    // spec/captp.md 11.10: only with `handoff`; without it a call carrying
    // one is echoed as for a newer kind.
    case wire::CapDescriptor::THIRD_PARTY_HOSTED: return handoff;
  }
  return false;
}

}  // namespace

bool Session::has_unknown_cap(capnp::List<wire::Value>::Reader args) const {
  bool unknown = false;
  bool h = handoff();
  auto check = [&](wire::CapDescriptor::Reader c) { unknown = unknown || !known_arm(c, h); };
  for (auto a : args) for_each_cap(a, check);
  return unknown;
}

void Session::undo_echoed_call(wire::Call::Reader call) {
  // The peer took none of the references: each one we exported in the call
  // is released once, as if the peer had imported and dropped it.
  auto undo = [&](wire::CapDescriptor::Reader c) {
    if (c.isSenderHosted()) release_export(c.getSenderHosted(), 1);
    if (c.isSenderPromise()) release_export(c.getSenderPromise(), 1);
    if (c.isThirdPartyHosted()) release_export(c.getThirdPartyHosted().getVine(), 1);
  };
  for (auto a : call.getArgs()) for_each_cap(a, undo);
}

bool Session::is_ours(const Handler* h) const noexcept {
  if (auto* i = dynamic_cast<const ImportHandler*>(h)) return i->session() == this;
  if (auto* r = dynamic_cast<const RemotePromise*>(h)) return r->session() == this;
  return false;
}

void Session::write_cap(const Capability& c, wire::CapDescriptor::Builder out) {
  HandlerPtr keep;  // a follower made below lives until it is exported
  Handler* h = settle_local(c.handler.get());
  if (!h) throw_error(ErrorKind::failed, "cannot send an empty reference");
  for (int steps = 0; steps < 64; ++steps) {
    if (PromiseBase* p = h->as_promise(); p && p->pending() && p->forward()) {
      // A call's result (or a promise following one): the peer's own answer
      // is named in its terms; any other session's is exported as this
      // promise, which settles when that answer comes.
      if (!is_ours(p->forward())) break;
      h = p->forward();
    }
    if (auto* i = dynamic_cast<ImportHandler*>(h); i && i->session() == this) {
      out.setReceiverHosted(i->id());
      return;
    }
    auto* r = dynamic_cast<RemotePromise*>(h);
    if (!r) break;
    if (r->state() == RemotePromise::State::resolved && r->resolution()) {
      h = settle_local(r->resolution());
      continue;
    }
    if (r->session() != this) {
      // A promise of another session with no local promise in front of it
      // (spec/captp.md 4, Promises as values): what is exported is a local
      // promise of its outcome, so that the peer gets a resolve when it
      // settles, not a proxy it could not read a value from.
      keep = detail::send_by_name(*r, std::string(detail::kWhenResolved), {}).state();
      h = keep.get();
      break;
    }
    if (r->is_import()) {
      out.setReceiverHosted(r->target().id);
      return;
    }
    if (r->state() == RemotePromise::State::pending && questions_.find(r->target().id)) {
      write_promised_answer(r->target().id, r->target().path, out.initReceiverAnswer());
      return;
    }
    break;  // embargoed or answered: export our promise-like handler
  }
  // spec/captp.md 4: every promise of this vat goes as senderPromise, settled
  // or not; one already settled is resolved right after this message.
  bool promise = h->as_promise() != nullptr;
  // spec/captp.md 11, H2: an object imported over another session may be
  // handed off instead of proxied.
  if (auto* i = dynamic_cast<ImportHandler*>(h); i && !promise && try_handoff(*i, out)) return;
  std::uint32_t id = export_handler(HandlerPtr(h), promise);
  if (promise)
    out.setSenderPromise(id);
  else
    out.setSenderHosted(id);
}

std::uint32_t Session::export_handler(HandlerPtr h, bool promise) {
  const void* key = h->identity();
  if (auto it = export_ids_.find(key); it != export_ids_.end()) {
    Export* e = exports_.find(it->second);
    ++e->count;
    if (export_journal_) export_journal_->push_back(it->second);
    return it->second;
  }
  PromiseBase* p = promise ? h->as_promise() : nullptr;
  std::uint64_t serial = ++export_serial_;
  std::uint32_t id = exports_.add(Export{std::move(h), 1, promise, serial});
  export_ids_.emplace(key, id);
  if (export_journal_) export_journal_->push_back(id);
  if (p) p->listen(std::make_unique<ResolveListener>(Ptr<Session>(this), id, serial));
  return id;
}

void Session::undo_exports(const std::vector<std::uint32_t>& ids) {
  std::vector<Export> gone;  // targets die after the tables are consistent
  for (std::uint32_t id : ids) {
    Export* e = exports_.find(id);
    if (!e || e->count == 0) continue;  // the session ended meanwhile
    if (--e->count > 0) continue;
    forget_export_id(id, *e);
    gone.push_back(std::move(*exports_.take(id)));
  }
}

void Session::export_settled(std::uint32_t id, std::uint64_t serial, PromiseBase& p) {
  Export* e = exports_.find(id);
  // Released (or its export undone) before it settled; the id may name
  // another export since, even of the same promise, which resolves it itself.
  if (!open_ || !e || e->serial != serial) return;
  if (export_journal_) {
    // A promise settled before it was sent: its resolve follows the message
    // being built, which names the id first (spec/captp.md 4).
    resolves_due_.emplace_back(id, serial);
    return;
  }
  if (resolve_waits(p, id, serial)) return;
  CapCodec caps(*this);
  std::optional<Value> v;
  Error err;
  if (p.status() == PromiseBase::Status::broken) {
    err = p.error();
  } else {
    try {
      v = p.value_as_value();
    } catch (...) {
      err = error_from_exception(std::current_exception());
    }
  }
  auto send_resolve = [&] {
    send([&](wire::Message::Builder out) {
      auto r = out.initResolve();
      r.setPromiseId(id);
      if (v)
        write_value(*v, r.initValue(), caps);
      else
        write_error(err, r.initError());
    });
  };
  try {
    send_resolve();
  } catch (...) {
    // The value cannot travel (too deep, too large): the promise arrives
    // broken with the reason, rather than never settling.
    if (!v) throw;
    v.reset();
    err = error_from_exception(std::current_exception());
    send_resolve();
  }
  // spec/captp.md 4: once resolved, the export stands for this outcome only.
  // A later send of the same promise is a new export with a resolve of its
  // own, so that a peer that released this id meanwhile is never left with
  // an import that no resolve will reach. (Not before the resolve went: a
  // value that holds the promise itself names this id again, rather than a
  // new export whose resolve would hold it again, and so on.)
  if (Export* still = exports_.find(id); still && still->serial == serial) forget_export_id(id, *still);
}

void Session::send_due_resolves() {
  if (sending_due_) return;  // the loop below sends what its own sends add
  sending_due_ = true;
  for (std::size_t i = 0; i < resolves_due_.size() && open_; ++i) {
    auto [id, serial] = resolves_due_[i];
    Export* e = exports_.find(id);
    PromiseBase* p = e && e->serial == serial ? e->target->as_promise() : nullptr;
    if (p && !p->pending()) export_settled(id, serial, *p);
  }
  resolves_due_.clear();
  sending_due_ = false;
}

void Session::forget_export_id(std::uint32_t id, const Export& e) {
  // A resolved promise's identity may name a newer export of it by now.
  if (auto it = export_ids_.find(e.target->identity()); it != export_ids_.end() && it->second == id) {
    export_ids_.erase(it);
    // As the tables do (tables.h): the buckets of a map that once held many
    // exports go back once it holds a quarter of them.
    if (export_ids_.bucket_count() > 4 * export_ids_.size() + 64) export_ids_.rehash(0);
  }
}

void Session::release_export(std::uint32_t id, std::uint32_t count) {
  Export* e = exports_.find(id);
  if (!e) throw ProtocolError(fmt::format("release of unknown export id {}", id));
  if (count == 0 || count > e->count)
    throw ProtocolError(fmt::format("release of export {} by {}, but only {} sent", id, count, e->count));
  e->count -= count;
  if (e->count > 0) return;
  forget_export_id(id, *e);
  auto gone = exports_.take(id);  // the target dies after the tables are consistent
  // spec/captp.md 11, H13: a vine released to zero cancels its provides.
  if (!introductions_.empty()) end_introductions(id);
}

Capability Session::read_cap(wire::CapDescriptor::Reader in) {
  switch (in.which()) {
    case wire::CapDescriptor::SENDER_HOSTED:
    case wire::CapDescriptor::SENDER_PROMISE: {
      bool promise = in.isSenderPromise();
      return import_id(promise ? in.getSenderPromise() : in.getSenderHosted(), promise);
    }
    case wire::CapDescriptor::RECEIVER_HOSTED: {
      std::uint32_t id = in.getReceiverHosted();
      Export* e = exports_.find(id);
      if (!e) throw ProtocolError(fmt::format("reference to unknown export id {}", id));
      return Capability{e->target, nullptr, e->target->kind() == detail::RefKind::promise};
    }
    case wire::CapDescriptor::RECEIVER_ANSWER: {
      auto pa = in.getReceiverAnswer();
      Answer* a = answers_.find(pa.getQuestionId());
      if (!a) throw ProtocolError(fmt::format("reference to unknown answer {}", pa.getQuestionId()));
      HandlerPtr h = a->result;
      auto path = pa.getPath();
      if (path.size() > kMaxValueDepth) throw ProtocolError("promised-answer path too long");
      // spec/captp.md 5, "Same path": a receiverAnswer is a different path,
      // also where our answer already forwards to a question of ours on this
      // session (we passed its call on to the peer). Calls sent along the
      // promised path go peer -> here -> peer, so the field must stay a
      // promise of this vat: the peer's own field of that question, which
      // pipeline_field() would hand out, looks to RemotePromise::resolve like
      // the same path, and calls sent through it at once overtook the earlier
      // ones, unembargoed (sim seed 7203).
      for (auto name : path) {
        std::string field(name.cStr(), name.size());
        detail::PromiseBase* p = h->as_promise();
        h = p ? p->pipeline_field_here(field) : h->pipeline_field(field);
      }
      return Capability{h, nullptr, true};
    }
    case wire::CapDescriptor::THIRD_PARTY_HOSTED:
      if (handoff()) return read_third_party(in.getThirdPartyHosted());
      // spec/captp.md 4 and 11: outside a call's arguments, a kind this
      // session did not negotiate aborts it.
      throw ProtocolError("thirdPartyHosted reference on a session without the handoff feature");
  }
  throw ProtocolError("reference of an unknown kind");
}

Capability Session::import_id(std::uint32_t id, bool promise) {
  if (Import* imp = imports_.find(id); imp && imp->handler) {
    if (imp->count == UINT32_MAX) throw ProtocolError(fmt::format("import {} received too many times", id));
    ++imp->count;
    bool was_promise = dynamic_cast<RemotePromise*>(imp->handler) != nullptr;
    if (was_promise != promise) throw ProtocolError(fmt::format("export {} changed between object and promise", id));
    return Capability{HandlerPtr(imp->handler), nullptr, promise};
  }
  HandlerPtr h;
  if (promise)
    h = RemotePromise::for_import(&vat_, Ptr<Session>(this), id);
  else
    h = detail::make_ptr<ImportHandler>(&vat_, Ptr<Session>(this), id);
  if (!imports_.insert(id, Import{.handler = h.get(), .count = 1, .promise = promise})) {
    throw ProtocolError(fmt::format("export id {} out of range", id));
  }
  released_promises_.erase(id);  // a resolve for this id now names the new import
  return Capability{std::move(h), nullptr, promise};
}

void Session::import_dropped(std::uint32_t id) {
  Import* imp = imports_.find(id);
  if (!imp) return;
  std::uint32_t count = imp->count;
  // spec/captp.md, "resolve": the peer may have sent the resolve before it
  // reads this release.
  if (imp->promise && open_) released_promises_.insert(id);
  imports_.take(id);
  if (!open_) return;
  send(
      [&](wire::Message::Builder out) {
        auto r = out.initRelease();
        r.setId(id);
        r.setCount(count);
      },
      /*lazy=*/true);
}

}  // namespace vatic::captp
