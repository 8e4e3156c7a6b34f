#include "vat/supervise/child_slot.h"

#include <cxxabi.h>

#include <algorithm>
#include <memory>
#include <typeinfo>

#include <fmt/format.h>

#include "vat/vat.h"

namespace vatic::detail {

std::pair<std::string, std::string> describe_exception(std::exception_ptr e) {
  auto demangle = [](const char* name) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
    return std::string(status == 0 && out ? out.get() : name);
  };
  try {
    std::rethrow_exception(e);
  } catch (const VatError& x) {
    return {fmt::format("vatic::VatError({})", to_string(x.error().kind)), x.error().reason};
  } catch (const std::exception& x) {
    return {demangle(typeid(x).name()), x.what()};
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return {t ? demangle(t->name()) : std::string("unknown"), "(not a std::exception)"};
  }
}

void IncarnationImpl::escaped(std::exception_ptr e) {
  if (retired_ || !slot_) return;
  if (crash_on_ == CrashOn::unexpected) {
    try {
      std::rethrow_exception(e);
    } catch (const ChildCrash&) {
    } catch (const VatError&) {
      return;  // an answer, not a crash
    } catch (...) {
    }
  }
  Supervisor* owner = slot_->owner();
  if (owner) owner->child_crashed(*slot_->child(), std::move(e));
}

void IncarnationImpl::in_flight(Ptr<PromiseBase> result) {
  if (retired_) return result->break_with(why_);
  // Drop settled ones before the list doubles, so a long-lived child that
  // answers asynchronously keeps it short.
  if (in_flight_.size() >= 16 && (in_flight_.size() & (in_flight_.size() - 1)) == 0)
    std::erase_if(in_flight_, [](const Ptr<PromiseBase>& p) { return !p->pending(); });
  in_flight_.push_back(std::move(result));
}

void IncarnationImpl::retire(const Error& why) {
  if (retired_) return;
  retired_ = true;
  why_ = why;
  Ptr<IncarnationImpl> keep(this);
  auto owed = std::move(in_flight_);
  in_flight_.clear();
  for (auto& r : owed) r->break_with(why);
  if (obj_) {
    break_monitors(*obj_, why);
    // A supervisor that ends takes its subtree with it.
    if (auto* sup = dynamic_cast<Supervisor*>(obj_)) sup->halt(why.reason);
  }
}

ChildSlot::~ChildSlot() {
  if (inc_) inc_->detach();
  Error why = stopped_.reason.empty() ? Error{ErrorKind::disconnected, "supervised child gone"} : stopped_;
  for (auto& m : queued_) break_message(std::move(m), why);
}

void ChildSlot::deliver(MessagePtr m) {
  switch (state_) {
    case State::running: return obj_->deliver(std::move(m));
    case State::restarting:
      if (queued_.size() >= kMaxQueuedInSlot)
        return break_message(std::move(m), Error{ErrorKind::overloaded,
                                                 "supervised child is restarting and its "
                                                 "queue is full"});
      queued_.push_back(std::move(m));
      return;
    case State::stopped: return break_message(std::move(m), stopped_);
  }
}

void ChildSlot::attach(HandlerPtr obj, CrashOn crash_on) {
  Object* o = obj->near_object();
  inc_ = make_ptr<IncarnationImpl>(this, o, crash_on);
  o->ensure_hooks().incarnation = inc_;
  obj_ = std::move(obj);
  state_ = State::running;
  // Messages that waited for this incarnation go first, in the order sent.
  auto waiting = std::move(queued_);
  queued_.clear();
  for (auto& m : waiting) obj_->deliver(std::move(m));
}

void ChildSlot::suspend(const Error& why) {
  if (state_ == State::stopped) return;
  state_ = State::restarting;
  HandlerPtr old = std::move(obj_);  // the object lives on while messages to it drain
  if (inc_) {
    Ptr<IncarnationImpl> inc = std::move(inc_);
    inc->detach();
    inc->retire(why);
  }
}

void ChildSlot::stop(const Error& why) {
  if (state_ == State::stopped) return;
  suspend(why);
  state_ = State::stopped;
  stopped_ = why;
  auto waiting = std::move(queued_);
  queued_.clear();
  for (auto& m : waiting) break_message(std::move(m), why);
  owner_ = nullptr;
}

}  // namespace vatic::detail
