#include "vat/monitor.h"

#include <algorithm>

#include "vat/internal/hooks.h"
#include "vat/message.h"
#include "vat/promise_state.h"

namespace vatic::detail {

namespace {

// Turns the __whenBroken answer into the monitor's Error. Unlike `then`, it
// wants the answer only while someone holds or awaits the monitor, so a
// dropped remote monitor is cancelled (and its answer forgotten) like any
// call nobody waits for.
class MonitorListener final : public Listener {
 public:
  explicit MonitorListener(Ptr<PromiseState<Error>> out) : out_(std::move(out)) {}
  bool wanted() const noexcept override { return out_->pending() && (out_->ref_count() > 1 || out_->observed()); }
  void settled(PromiseBase& p) override {
    if (p.status() == PromiseBase::Status::broken)
      out_->fulfill(Error(p.error()));
    else
      out_->fulfill(Error{ErrorKind::failed, "the monitored object answered instead of breaking"});
  }
  void run() override {}

 private:
  Ptr<PromiseState<Error>> out_;
};

}  // namespace

void register_monitor(Object& o, Ptr<PromiseBase> answer) {
  auto& list = o.ensure_hooks().monitors;
  // An answer only this list holds, with nobody listening, is one whose
  // monitor was dropped: prune those before the list doubles.
  if (list.size() >= 8 && (list.size() & (list.size() - 1)) == 0) {
    std::erase_if(list,
                  [](const Ptr<PromiseBase>& p) { return !p->pending() || (p->ref_count() == 1 && !p->observed()); });
  }
  list.push_back(std::move(answer));
}

void break_monitors(Object& o, const Error& why) {
  ObjectHooks* h = o.hooks();
  if (!h) return;
  auto list = std::move(h->monitors);
  h->monitors.clear();
  for (auto& m : list) {
    // A local monitor settles with the reason; a __whenBroken answer breaks
    // with it (the asker turns that into its own reason).
    if (auto* local = dynamic_cast<PromiseState<Error>*>(m.get()))
      local->fulfill(Error(why));
    else
      m->break_with(why);
  }
}

vatic::Promise<Error> monitor_handler(const HandlerPtr& h) {
  if (!h) return vatic::Promise<Error>::resolved(Error{ErrorKind::failed, "monitor of an empty reference"});
  if (h->kind() == RefKind::broken) {
    if (PromiseBase* p = h->as_promise()) {
      // Follow the chain to the promise that holds the reason.
      Handler* at = p;
      while (at->forwards_to()) at = at->forwards_to();
      if (PromiseBase* end = at->as_promise(); end && end->status() == PromiseBase::Status::broken)
        return vatic::Promise<Error>::resolved(end->error());
      if (p->status() == PromiseBase::Status::broken) return vatic::Promise<Error>::resolved(p->error());
      // Fulfilled, to a far or remote reference that broke since (its vat
      // stopped, its session ended): that reference has the reason, not this
      // promise, whose error() is empty. Ask it, below.
    }
  }
  // A near object of this vat: watch it directly, so that a monitor its
  // caller drops is pruned from the object's list.
  if (Object* o = h->near_object(); o && o->home() == (current_vat() ? current_vat() : o->home())) {
    auto out = new_state<Error>(o->home());
    register_monitor(*o, out);
    return vatic::Promise<Error>(std::move(out));
  }
  auto out = new_state<Error>(result_home(*h));
  send_by_name(*h, std::string(kWhenBroken), {}).state()->listen(std::make_unique<MonitorListener>(out));
  return vatic::Promise<Error>(std::move(out));
}

}  // namespace vatic::detail
