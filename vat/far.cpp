#include "vat/internal/far.h"

#include <fmt/format.h>

#include "vat/internal/vat_impl.h"
#include "vat/message.h"
#include "vat/vat.h"

namespace vatic::detail {

namespace {

// Frees an entry on its home thread (or here, once the home vat was released
// and the entry's target is gone with it).
class ReleaseTurn final : public CrossThreadTurn {
 public:
  explicit ReleaseTurn(ExportEntry* e) : e_(e) {}
  ~ReleaseTurn() override {
    e_->home->unlink(e_);
    delete e_;
  }
  void run() override {}
  void arrive() override { delete this; }

 private:
  ExportEntry* e_;
};

void drop_entry(ExportEntry* e) {
  auto home = e->home;
  auto* t = new ReleaseTurn(e);
  if (!home->push_cleanup(t)) delete t;
}

TransitRef own(ExportEntry* e) {
  e->home->link(e);
  return TransitRef(e, &drop_entry);
}

// The answer to a call, on its way back to the calling vat.
class ReplyTurn final : public CrossThreadTurn {
 public:
  ReplyTurn(std::uint32_t slot, Value v) : slot_(slot), ok_(true), value_(std::move(v)) {}
  ReplyTurn(std::uint32_t slot, Error e) : slot_(slot), ok_(false), error_(std::move(e)) {}
  void run() override {}
  void arrive() override {
    Vat* here = current_vat();
    if (ok_) unpack_from_transit(value_);
    here->impl().settle_question(slot_, ok_, value_, error_);
    delete this;
  }

 private:
  std::uint32_t slot_;
  bool ok_;
  Value value_;
  Error error_;
};

void send_reply(const std::shared_ptr<VatCore>& to, ReplyTurn* r) {
  if (!to->push(r)) delete r;  // the caller's vat is gone; so is its question
}

// Sends a call's outcome back to the vat that asked.
class ReplyListener final : public Listener {
 public:
  ReplyListener(std::shared_ptr<VatCore> to, std::uint32_t slot) : to_(std::move(to)), slot_(slot) {}
  void settled(PromiseBase& p) override {
    ReplyTurn* r = nullptr;
    if (p.status() == PromiseBase::Status::broken) {
      r = new ReplyTurn(slot_, p.error());
    } else {
      try {
        Value v = p.value_as_value();
        pack_for_transit(v);
        r = new ReplyTurn(slot_, std::move(v));
      } catch (...) {
        r = new ReplyTurn(slot_, error_from_exception(std::current_exception()));
      }
    }
    send_reply(to_, r);
  }
  void run() override {}

 private:
  std::shared_ptr<VatCore> to_;
  std::uint32_t slot_;
};

// A call travelling to the target's vat. It is routed the moment it arrives
// (not queued as a turn), so calls through one reference keep their order even
// when some reach their target through a resolved promise.
class CallTurn final : public CrossThreadTurn {
 public:
  CallTurn(TransitRef target, std::string method, std::vector<Value> args, std::shared_ptr<VatCore> reply_to,
           std::uint32_t slot, TransitRef answer)
      : target_(std::move(target)),
        method_(std::move(method)),
        args_(std::move(args)),
        reply_to_(std::move(reply_to)),
        slot_(slot),
        answer_(std::move(answer)) {}

  ~CallTurn() override {
    if (!arrived_)
      send_reply(reply_to_, new ReplyTurn(slot_, Error{ErrorKind::disconnected,
                                                       fmt::format("vat {} stopped before the call to {} arrived",
                                                                   target_->home->name(), method_)}));
  }

  void run() override {}

  void arrive() override {
    arrived_ = true;
    Vat* here = current_vat();
    auto msg =
        std::make_unique<DynamicMessage>(make_ptr<PromiseState<Value>>(here), std::move(method_), std::move(args_));
    msg->set_sender(reply_to_->name());
    Ptr<PromiseBase> result(&msg->result());
    if (answer_) answer_->target = result;
    result->listen(std::make_unique<ReplyListener>(std::move(reply_to_), slot_));
    for (auto& a : msg->args()) unpack_from_transit(a);
    HandlerPtr target = target_->target;
    if (!target) {
      result->break_with(Error{ErrorKind::failed, "call to an answer slot that was never bound"});
    } else {
      target->deliver(std::move(msg));
    }
    delete this;
  }

 private:
  TransitRef target_;
  std::string method_;
  std::vector<Value> args_;
  std::shared_ptr<VatCore> reply_to_;
  std::uint32_t slot_;
  TransitRef answer_;
  bool arrived_ = false;
};

void walk(Value& v, bool pack) {
  switch (v.type()) {
    case Value::Type::list:
      for (auto& e : v.as_list()) walk(e, pack);
      break;
    case Value::Type::record:
      for (auto& [k, f] : v.as_record().fields) walk(f, pack);
      break;
    case Value::Type::reference: {
      Capability& c = v.as_capability();
      if (pack && c.handler) {
        c.transit = c.handler->to_transit();
        c.handler.reset();
      } else if (!pack && c.transit) {
        c.handler = import_transit(c.transit);
        c.transit.reset();
      }
      break;
    }
    default: break;
  }
}

}  // namespace

TransitRef Handler::to_transit() { return export_handler(HandlerPtr(this)); }

TransitRef export_handler(HandlerPtr target) {
  auto* e = new ExportEntry;
  e->home = target->home()->impl().core;
  e->identity = target->identity();
  e->promise = target->kind() == RefKind::promise;
  // A vat being released exports dead entries: whatever it hands out now (say,
  // from a destructor) must not keep an object alive past the vat.
  if (!target->home()->impl().releasing) e->target = std::move(target);
  return own(e);
}

TransitRef make_answer_slot(const std::shared_ptr<VatCore>& home) {
  auto* e = new ExportEntry;
  e->home = home;
  e->identity = e;
  e->promise = true;
  return own(e);
}

HandlerPtr import_transit(const TransitRef& t) {
  Vat* here = current_vat();
  if (t->home == here->impl().core) return t->target;
  return make_ptr<FarHandler>(here, t);
}

void pack_for_transit(Value& v) { walk(v, true); }
void unpack_from_transit(Value& v) { walk(v, false); }

RefKind FarHandler::kind() const noexcept {
  if (entry_->home->released()) return RefKind::broken;
  return entry_->promise ? RefKind::promise : RefKind::far;
}

void FarHandler::deliver(MessagePtr m) {
  Vat& here = *home();
  std::string method;
  std::vector<Value> args;
  try {
    method = std::string(m->method());
    args = m->take_args();
    for (auto& a : args) pack_for_transit(a);
  } catch (...) {
    break_message(std::move(m), error_from_exception(std::current_exception()));
    return;
  }
  Ptr<PromiseBase> q = m->take_result();
  m.reset();
  TransitRef answer;
  if (q->pipelinable()) answer = make_answer_slot(entry_->home);
  std::uint32_t slot = here.impl().add_question(q);
  auto* call = new CallTurn(entry_, std::move(method), std::move(args), here.impl().core, slot, answer);
  if (!entry_->home->push(call)) delete call;  // replies `disconnected`, asynchronously
  // Only now, so that messages already queued on q follow the call itself.
  if (answer) q->forward_to(make_ptr<FarHandler>(&here, std::move(answer)));
}

}  // namespace vatic::detail
