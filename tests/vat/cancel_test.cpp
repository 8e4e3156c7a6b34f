#include "vat/cancel.h"

#include <gtest/gtest.h>

#include "tests/vat/test_objects.h"
#include "vat/vatic.h"

// The cancellation token of a call, in one vat. Nothing local cancels a call
// by itself (vat/cancel.h): these tests mark a call's result as CapTP does on a
// finish, through the promise state the caller holds (for a local send it is
// the call's result).
namespace vatic {
namespace {

using test::run_in;

Task<bool> sees_after(Promise<void> gate) {
  co_await gate;
  co_return cancelled();
}

class Job : public Object {
 public:
  bool plain() { return cancelled(); }
  // Stops at the first check after the call is cancelled; a helper Task it
  // awaits sees the same call.
  Task<int> work(Promise<void> first, Promise<void> second) {
    ++started_;
    co_await first;
    bool helper_saw = co_await sees_after(second);
    if (cancelled()) {
      stopped_ = helper_saw ? 2 : 1;
      co_return -1;
    }
    ++effects_;
    co_return 1;
  }
  void keep_token() { token_ = cancel_token(); }
  bool token_says() const { return token_.cancelled(); }

  int started_ = 0, effects_ = 0, stopped_ = 0;
  VATIC_METHODS(Job, plain, work, keep_token, token_says)

 private:
  CancelToken token_;
};

TEST(Cancel, OutsideAnyCallNothingIsCancelled) {
  Vat vat;
  EXPECT_FALSE(cancelled());
  EXPECT_NO_THROW(throw_if_cancelled());
  EXPECT_FALSE(run_in(vat, [] { return cancelled(); }));
  EXPECT_FALSE(run_in(vat, [] { return cancel_token().cancelled(); }));
}

TEST(Cancel, APlainMethodSeesItsCallCancelledBeforeItRuns) {
  Vat vat;
  Promise<bool> wanted, unwanted;
  run_in(vat, [&] {
    Ref<Job> job = vat.make<Job>();
    wanted = job.send<&Job::plain>();
    unwanted = job.send<&Job::plain>();
    unwanted.state()->request_cancel();
    return 0;
  });
  vat.run_until_idle();
  EXPECT_FALSE(wanted.value());
  EXPECT_TRUE(unwanted.value());
}

TEST(Cancel, ACoroutineSeesItsCallCancelledInLaterTurnsAndInTasksItAwaits) {
  Vat vat;
  Ref<Job> j;  // keeps the object for the assertions below
  Job* job = nullptr;
  Resolver<void> open_first, open_second, open_third, open_fourth;
  Promise<int> cancelled_call, wanted_call;
  run_in(vat, [&] {
    j = vat.make<Job>();
    job = static_cast<Job*>(detail::RefAccess::handler(j)->near_object());
    auto [f1, r1] = make_promise<void>();
    auto [s1, q1] = make_promise<void>();
    auto [f2, r2] = make_promise<void>();
    auto [s2, q2] = make_promise<void>();
    open_first = std::move(r1), open_second = std::move(q1), open_third = std::move(r2), open_fourth = std::move(q2);
    cancelled_call = j.send<&Job::work>(f1, s1);
    wanted_call = j.send<&Job::work>(f2, s2);
    return 0;
  });
  vat.run_until_idle();
  ASSERT_EQ(job->started_, 2) << "both methods ran their first turn and wait";
  // Nobody wants the first call any more, while its method waits.
  cancelled_call.state()->request_cancel();
  run_in(vat, [&] {
    open_first.resolve();
    open_third.resolve();
    return 0;
  });
  run_in(vat, [&] {
    open_second.resolve();
    open_fourth.resolve();
    return 0;
  });
  vat.run_until_idle();
  EXPECT_EQ(cancelled_call.value(), -1);
  EXPECT_EQ(job->stopped_, 2) << "the method and the helper Task it awaited both saw it";
  EXPECT_EQ(wanted_call.value(), 1);
  EXPECT_EQ(job->effects_, 1) << "only the wanted call had its effect";
  // A turn after the resumed coroutine is not in its call.
  EXPECT_FALSE(run_in(vat, [] { return cancelled(); }));
}

TEST(Cancel, ATokenTakenDuringTheCallAnswersAfterIt) {
  Vat vat;
  Ref<Job> job;
  Promise<void> call;
  run_in(vat, [&] {
    job = vat.make<Job>();
    call = job.send<&Job::keep_token>();
    return 0;
  });
  vat.run_until_idle();
  auto says = [&] { return run_in(vat, [&] { return job.send<&Job::token_says>(); }); };
  EXPECT_FALSE(says());
  call.state()->request_cancel();
  EXPECT_TRUE(says());
}

TEST(Cancel, ThrowIfCancelledBreaksTheCallWithCanceled) {
  Vat vat;
  Promise<int> p;
  run_in(vat, [&] {
    auto [gate, open] = make_promise<void>();
    p = gate.then([] { return 1; });  // a continuation is no call: never cancelled
    open.resolve();
    return 0;
  });
  vat.run_until_idle();
  EXPECT_EQ(p.value(), 1);
  class Thrower : public Object {
   public:
    int go() {
      throw_if_cancelled();
      return 1;
    }
    VATIC_METHODS(Thrower, go)
  };
  Promise<int> stopped;
  run_in(vat, [&] {
    stopped = vat.make<Thrower>().send<&Thrower::go>();
    stopped.state()->request_cancel();
    return 0;
  });
  vat.run_until_idle();
  ASSERT_TRUE(stopped.is_broken());
  EXPECT_EQ(stopped.error().kind, ErrorKind::failed);
  EXPECT_NE(stopped.error().reason.find("canceled"), std::string::npos) << stopped.error().reason;
}

}  // namespace
}  // namespace vatic
