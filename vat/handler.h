// Handler: the one interface behind every reference, and the extension point
// of vatic (as Cap'n Proto's ClientHook is). A near object, a local promise, a
// far reference into another vat of the process, a CapTP import, a revocable
// forwarder, a facet and a membrane each implement it; a library that adds a
// new kind of reference (another transport, a proxy, a persistent object)
// implements it too, and `detail::RefAccess` (vat/ref.h) turns a HandlerPtr
// into a typed Ref<T> and back.
//
// Message: one eventual send in flight: a method selector, arguments and the
// resolver of its result (vat/message.h has the typed and dynamic kinds). A
// message is delivered to a handler; a near object runs it as a turn, a
// promise queues or forwards it, a far handler lowers it to a dynamic (method
// name, Values) call and ships it to the target's vat. PromiseBase
// (vat/promise_state.h) is the resolver side of a promise, which is itself a
// Handler so that sends can be pipelined to it.
//
// Ownership: handlers are reference-counted (Ptr<Handler>); deliver() takes
// the message (MessagePtr is a unique_ptr) and must run, queue, forward or
// break it, never drop it silently; a promise owns its listeners
// (PromiseBase::listen takes a unique_ptr). A Handler belongs to one vat and
// is touched only by that vat's thread.
//
// These types live in namespace vatic::detail for historical reasons; the
// headers vat/handler.h, vat/message.h and vat/promise_state.h are public and
// stable within a minor version. What is in vat/internal/ is not.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "vat/error.h"
#include "vat/internal/refcounted.h"
#include "vat/internal/turn.h"

namespace vatic {
class Vat;
class Object;
class Value;
}  // namespace vatic

namespace vatic::detail {

class Message;
class PromiseBase;
struct ArgCapture;
struct ExportEntry;
using MessagePtr = std::unique_ptr<Message>;
using TransitRef = std::shared_ptr<ExportEntry>;

enum class RefKind : unsigned char { near, far, promise, broken };

class Handler : public RefCounted {
 public:
  explicit Handler(Vat* home) : home_(home) {}

  Vat* home() const noexcept { return home_; }

  // Eventual send: takes the message and guarantees it is run, queued, forwarded
  // or broken. Never throws.
  virtual void deliver(MessagePtr m) = 0;

  virtual RefKind kind() const noexcept = 0;

  // The object behind a near reference, else null.
  virtual Object* near_object() noexcept { return nullptr; }

  // What two references to the same thing share (never dereferenced).
  virtual const void* identity() const noexcept { return this; }

  // Packs this reference to travel to another vat: an entry that the home vat
  // owns and any thread may hold.
  virtual TransitRef to_transit();

  // The local promise behind this handler, if it is one.
  virtual PromiseBase* as_promise() noexcept { return nullptr; }
  // Where messages sent to this handler go on to, if it only forwards them (a
  // settled promise, local or remote): what cycle checks follow.
  virtual Handler* forwards_to() const noexcept { return nullptr; }

  // A handler for the field `name` of the record this promise will hold:
  // pipelining into a field of a returned record. A remote promise sends on
  // with a path, so the field is picked in the answering vat; the default
  // waits here. On something that is not a promise, a broken reference.
  virtual Ptr<Handler> pipeline_field(const std::string& name);
  // Whether pipeline_field() answers here and now, sending nothing: a local
  // promise (it listens, or picks the field of its value) or a remote promise
  // that sends on with a path. The default asks the target for its outcome
  // first (a message), and a gate answers only in a later turn.
  virtual bool pipelines_fields() const noexcept { return false; }

 private:
  Vat* home_;
};

using HandlerPtr = Ptr<Handler>;

class Message : public Turn {
 public:
  // The method's name as the target's method table spells it. May throw for a
  // typed send of a method its class does not list.
  virtual std::string_view method() const = 0;
  // The same name when it lives in static storage (a typed send names an entry
  // of its class's method table), else empty: the flight recorder keys its
  // statistics by that address instead of by text.
  virtual std::string_view static_method() const noexcept { return {}; }

  // Whether this is the internal request for a promise's outcome, which a
  // promise answers itself instead of pipelining it.
  virtual bool asks_when_resolved() const noexcept { return false; }

  // Runs the method on a near object. Exceptions break the result.
  virtual void invoke(Object& target) = 0;

  // The arguments as Values (called once, when the message leaves for another vat).
  virtual std::vector<Value> take_args() = 0;

  // The class whose member a typed send calls (invoke casts the target to
  // it), or null for a send by name, which any class may answer.
  virtual const std::type_info* target_class() const noexcept { return nullptr; }

  // The arguments as the flight recorder keeps them (see arg_summary.h): cheap
  // for a typed send, formatted at once for a send by name.
  virtual void capture_args(ArgCapture& out) const noexcept;

  // A message dropped undelivered breaks its result (see abandoned_error).
  ~Message() override;

  // The promise this message's result resolves.
  PromiseBase& result() const noexcept { return *result_; }
  // Hands the result over (the far path keeps it as a question). Inline, in
  // promise_state.h: it needs PromiseBase complete.
  inline Ptr<PromiseBase> take_result() noexcept;
  // Gives the message a result after take_result (one of the same type: the
  // typed invoke settles it as such).
  inline void set_result(Ptr<PromiseBase> r) noexcept;

  // A turn that runs `invoke` on the near object it was delivered to.
  void run() override;
  // After `invoke`: a result still pending keeps the target alive until it
  // settles; the result is let go (whatever settles it now owns it).
  void finish_run();
  // The result, or null once something took it.
  PromiseBase* result_or_null() const noexcept { return result_.get(); }

  HandlerPtr target_;
  // Who sent this message when it came from outside the target's vat (the
  // calling vat's name, a CapTP session's peer), set by whatever carried it
  // here; null for a send made in the target's own vat. It needs to live only
  // until the message runs: the recorder copies it.
  const char* sender_ = nullptr;

 protected:
  Ptr<PromiseBase> result_;
};

// Breaks a message's result (it cannot be delivered) and destroys it.
void break_message(MessagePtr m, const Error& e);

}  // namespace vatic::detail

namespace vatic::detail {

// The vat whose turn is running on this thread, or null outside any turn.
Vat* current_vat() noexcept;

// Queues `t` as a turn of `v` (v's thread only). A vat that is being released
// destroys the turn instead of running it.
void schedule(Vat* v, Turn* t);

// The current vat; throws std::logic_error naming `what` outside any turn.
Vat* require_current_vat(const char* what);

// The error a promise breaks with when its resolver is dropped unsettled:
// `disconnected` while its vat is being torn down, else `failed`.
Error abandoned_error(Vat* v);

}  // namespace vatic::detail
