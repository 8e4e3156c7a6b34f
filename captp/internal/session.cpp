#include "captp/internal/session.h"

#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include <boost/asio/post.hpp>

#include "captp/internal/net/channel.h"
#include "captp/internal/remote.h"
#include "vat/message.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::Ptr;

Session::Session(Vat& vat, std::shared_ptr<SecureChannel> channel, HandlerPtr bootstrap, SessionOptions options,
                 std::shared_ptr<ProvisionTable> provisions)
    : vat_(vat),
      channel_(std::move(channel)),
      bootstrap_(std::move(bootstrap)),
      options_(options),
      peer_(channel_->peer()),
      peer_label_("captp:" + peer_.to_text().substr(0, 16)),
      initiator_(channel_->is_initiator()),
      negotiated_(channel_->negotiated()),
      provisions_(std::move(provisions)) {}

Session::~Session() = default;

void Session::start(std::function<void(const Error&)> on_closed) {
  on_closed_ = std::move(on_closed);
  Ptr<Session> self(this);
  channel_->start([self](std::span<const std::uint8_t> payload) { self->on_data(payload); },
                  [self](const Error& e) { self->on_channel_closed(e); });
  sweep_ = vat_.every(options_.cancel_sweep, [this] { sweep_canceled(); });
  if (handoff()) provisions_->session_opened(*this);
}

SessionStats Session::stats() const {
  SessionStats s;
  s.exports = exports_.size();
  s.imports = imports_.size();
  s.questions = questions_.size();
  s.answers = answers_.size();
  s.embargoes = embargoes_.size();
  s.messages_in = messages_in_;
  s.messages_out = messages_out_;
  if (handoff()) {
    s.provisions = provisions_->provisions_of(*this);
    s.waiting_accepts = provisions_->waiting_of(*this);
  }
  s.handoffs = handoffs_;
  s.handoff_fallbacks = handoff_fallbacks_;
  s.last_handoff_fallback = last_handoff_fallback_;
  return s;
}

Error Session::broken_error() const {
  std::string why = closed_.reason.empty() ? std::string("closed") : closed_.reason;
  return Error{ErrorKind::disconnected, fmt::format("session with {} ended: {}", peer_.to_text(), why)};
}

void write_promised_answer(std::uint32_t qid, const std::vector<std::string>& path, wire::PromisedAnswer::Builder out) {
  out.setQuestionId(qid);
  auto names = out.initPath(static_cast<unsigned>(path.size()));
  for (unsigned i = 0; i < path.size(); ++i) names.set(i, path[i]);
}

void write_target(const Target& target, wire::MessageTarget::Builder out) {
  if (target.answer)
    write_promised_answer(target.id, target.path, out.initPromisedAnswer());
  else
    out.setImportedCap(target.id);
}

// --- Receiving

void Session::on_data(std::span<const std::uint8_t> payload) {
  if (!open_) return;
  Ptr<Session> keep(this);
  try {
    if (payload.size() % sizeof(capnp::word) != 0)
      throw ProtocolError("frame payload is not a whole number of Cap'n Proto words");
    capnp::ReaderOptions ro;
    ro.nestingLimit = kMaxCapnpNesting;
    auto words =
        kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload.data()), payload.size() / sizeof(capnp::word));
    while (words.size() > 0 && open_) {
      // Each message may read twice its own size, not the frame's: Cap'n Proto
      // charges zero-sized list elements one word each, so nothing in a frame
      // decodes to more than twice the frame.
      ro.traversalLimitInWords = 2 * capnp::expectedSizeInWordsFromPrefix(words);
      check_message(words);  // captp.md 7, Messages: segments and list counts, before any read
      capnp::FlatArrayMessageReader reader(words, ro);
      ++messages_in_;
      dispatch(reader.getRoot<wire::Message>());
      if (!fresh_handoffs_.empty()) start_fresh_handoffs();  // spec/captp.md 11, H7
      words = kj::arrayPtr(reader.getEnd(), words.end());
    }
    check_quiet();  // a return, finish or release may have emptied the last table
  } catch (const ProtocolError& e) {
    abort(Error{ErrorKind::failed, fmt::format("protocol violation by the peer: {}", e.what())});
  } catch (const kj::Exception& e) {
    abort(Error{ErrorKind::failed, fmt::format("malformed message from the peer: {}", e.getDescription().cStr())});
  } catch (const std::exception& e) {
    abort(Error{ErrorKind::failed, fmt::format("bad message from the peer: {}", e.what())});
  }
}

void Session::dispatch(wire::Message::Reader m) {
  switch (m.which()) {
    case wire::Message::BOOTSTRAP: return on_bootstrap(m.getBootstrap());
    case wire::Message::CALL: return on_call(m.getCall());
    case wire::Message::RETURN: return on_return(m.getReturn());
    case wire::Message::FINISH: return on_finish(m.getFinish());
    case wire::Message::RESOLVE: return on_resolve(m.getResolve());
    case wire::Message::RELEASE: return on_release(m.getRelease());
    case wire::Message::DISEMBARGO: return on_disembargo(m.getDisembargo());
    case wire::Message::ABORT: {
      Error e = read_error(m.getAbort());
      return on_channel_closed(Error{e.kind, fmt::format("peer aborted the session: {}", e.reason)});
    }
    case wire::Message::UNIMPLEMENTED: return on_unimplemented(m.getUnimplemented());
    // spec/captp.md 11.10: the handoff operations need the `handoff`
    // feature; without it they are echoed as any operation a 1.0 side does
    // not know.
    case wire::Message::PROVIDE:
      if (handoff()) return on_provide(m.getProvide());
      break;
    case wire::Message::ACCEPT:
      if (handoff()) return on_accept(m.getAccept());
      break;
    case wire::Message::ANNOUNCE:
      if (handoff()) return on_announce(m.getAnnounce());
      break;
  }
  // An operation from a newer version: echo it back, as the spec asks.
  send([&](wire::Message::Builder out) { out.setUnimplemented(m); });
}

// --- Sending

void Session::send(kj::FunctionParam<void(wire::Message::Builder)> build, bool lazy) {
  if (!open_) return;
  // A message is counted in the export table only if it is sent: whatever
  // throws part-way (a value too deep, a message larger than a frame) takes
  // back the counts it raised.
  std::vector<std::uint32_t> exported;
  std::vector<std::uint32_t>* outer = std::exchange(export_journal_, &exported);
  std::size_t introduced = introductions_.size();
  try {
    capnp::MallocMessageBuilder builder(scratch_.segment());
    build(builder.initRoot<wire::Message>());
    VectorOutput out(channel_->begin_append());
    capnp::writeMessage(out, builder);
    channel_->end_message();
  } catch (...) {
    export_journal_ = outer;
    undo_exports(exported);
    undo_introductions(introduced);  // spec/captp.md 11, H3: their provides are finished
    throw;
  }
  export_journal_ = outer;
  ++messages_out_;
  after_send(lazy);
  if (!outer && !resolves_due_.empty()) send_due_resolves();
}

void Session::after_send(bool lazy) {
  if (!lazy) channel_->request_flush();
  check_quiet();  // a release of our last import goes out through here
  if (!aborting_ && channel_->unsent_bytes() > options_.max_unsent_bytes)
    abort(Error{ErrorKind::overloaded,
                fmt::format("the peer is not reading: more than {} bytes queued for it", options_.max_unsent_bytes)});
}

bool Session::send_call(const Target& target, MessagePtr m) {
  if (!open_) {
    detail::break_message(std::move(m), broken_error());
    return false;
  }
  if (questions_.size() >= options_.max_questions) {
    detail::break_message(std::move(m),
                          Error{ErrorKind::overloaded, fmt::format("more than {} calls to {} await answers",
                                                                   options_.max_questions, peer_.to_text())});
    return false;
  }
  std::string method;
  std::vector<Value> args;
  try {
    method = std::string(m->method());
    args = m->take_args();
  } catch (...) {
    detail::break_message(std::move(m), error_from_exception(std::current_exception()));
    return false;
  }
  Ptr<detail::PromiseBase> result = m->take_result();
  m.reset();
  std::optional<std::uint32_t> on;
  if (target.answer) on = target.id;
  std::uint32_t qid = questions_.add(Question{.result = result, .pipelined_on = on});
  Ptr<Session> keep(this);
  CapCodec caps(*this);
  try {
    send([&](wire::Message::Builder out) {
      auto call = out.initCall();
      call.setQuestionId(qid);
      write_target(target, call.initTarget());
      call.setMethod(method);
      auto a = call.initArgs(static_cast<unsigned>(args.size()));
      for (unsigned i = 0; i < args.size(); ++i) write_value(args[i], a[i], caps);
    });
  } catch (...) {
    // Nothing was appended: the builder failed before serialization.
    questions_.take(qid);
    result->break_with(error_from_exception(std::current_exception()));
    return false;
  }
  if (!open_) return false;  // the send aborted the session, which broke the question
  auto qh = RemotePromise::for_answer(&vat_, keep, qid, {});
  questions_.find(qid)->handlers.push_back(qh.get());
  result->forward_to(std::move(qh));
  return true;
}

Ptr<detail::PromiseBase> Session::bootstrap() {
  auto result = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  if (!open_) {
    result->break_with(broken_error());
    return result;
  }
  std::uint32_t qid = questions_.add(Question{.result = result});
  send([&](wire::Message::Builder out) { out.initBootstrap().setQuestionId(qid); });
  if (!open_) return result;
  auto qh = RemotePromise::for_answer(&vat_, Ptr<Session>(this), qid, {});
  questions_.find(qid)->handlers.push_back(qh.get());
  result->forward_to(std::move(qh));
  return result;
}

void Session::attach_path(RemotePromise* p) {
  if (Question* q = questions_.find(p->target().id)) {
    q->handlers.push_back(p);
    q->paths[p->target().path] = p;
  }
}

RemotePromise* Session::path_handler(std::uint32_t qid, const std::vector<std::string>& path) const noexcept {
  // Indexed: a program that pipelines into many fields of one answer would
  // otherwise pay for every earlier path on each new one.
  const Question* q = questions_.find(qid);
  if (!q || q->returned) return nullptr;
  auto it = q->paths.find(path);
  return it != q->paths.end() && it->second->state() == RemotePromise::State::pending ? it->second : nullptr;
}

void Session::keep_used_path(RemotePromise* p) {
  Question* q = questions_.find(p->target().id);
  if (!q || q->returned) return;
  for (RemotePromise* h : q->handlers)
    if (h != p && h->target().path.empty()) {
      h->keep_field(detail::Ptr<RemotePromise>(p));
      ++q->kept;
      return;
    }
}

bool Session::may_keep_path(std::uint32_t qid) const noexcept {
  const Question* q = questions_.find(qid);
  return !q || q->returned || q->kept < options_.max_kept_paths;
}

void Session::remote_promise_dropped(RemotePromise* p) {
  if (p->embargo_id) {
    if (Embargo* e = embargoes_.find(*p->embargo_id)) e->promise = nullptr;
  }
  if (p->is_import()) return;
  if (Question* q = questions_.find(p->target().id)) {
    std::erase(q->handlers, p);
    if (auto it = q->paths.find(p->target().path); it != q->paths.end() && it->second == p) q->paths.erase(it);
  }
}

// Cancellation: a question whose result nobody holds, listens to or sends
// through any more is finished early, so that the callee may drop the work
// (with `cancel` negotiated, the method may see it: vat/cancel.h).
void Session::sweep_canceled() {
  if (!open_) return;
  if (channel_->pending_bytes() > 0) channel_->request_flush();  // lazy messages left behind
  // captp.md "finish": not while a call sent to its promised answer is still
  // unanswered and wanted. Finishing such a call may free the question it
  // depends on, so a chain unwinds from its end within one sweep. (An id
  // whose question returned and was reused may be kept a little longer by a
  // call still pipelined on the old answer: late, never wrong.)
  for (bool more = true; more && open_;) {
    std::unordered_set<std::uint32_t> depended_on;
    questions_.for_each([&](std::uint32_t, Question& q) {
      if (q.pipelined_on && !q.canceled && !q.returned) depended_on.insert(*q.pipelined_on);
    });
    std::vector<std::uint32_t> dropped;
    questions_.for_each([&](std::uint32_t qid, Question& q) {
      if (q.canceled || q.returned || !q.result || depended_on.contains(qid)) return;
      // Held only by the table, nothing waiting on it, and its pipelining
      // handler held only by the promise itself (and the paths calls went
      // along only by that handler: spec/captp.md 5, "One path, one record").
      if (q.result->ref_count() != 1 || q.result->observed() || q.handlers.empty()) return;
      RemotePromise* root = q.handlers[0];
      if (root->ref_count() != 1 || !root->target().path.empty()) return;
      for (RemotePromise* h : q.handlers)
        if (h != root && (h->ref_count() != 1 || !root->keeps_field(h))) return;
      dropped.push_back(qid);
    });
    for (std::uint32_t qid : dropped) {
      Question* q = questions_.find(qid);
      if (!q) continue;  // a send that failed ended the session and emptied the table
      q->canceled = true;
      auto result = std::move(q->result);  // drops the promise and its handler
      send([&](wire::Message::Builder out) { out.initFinish().setQuestionId(qid); });
    }
    more = !dropped.empty() && !depended_on.empty();
  }
}

// --- Ending

void Session::retire(std::function<void()> on_quiet) {
  retired_ = true;
  on_quiet_ = std::move(on_quiet);
  check_quiet();
}

bool Session::quiet() const noexcept {
  // A reply owed to the peer's disembargo (waiting for an embargo on its
  // path) must go out before the session may close.
  return questions_.size() == 0 && answers_.size() == 0 && exports_.size() == 0 && imports_.size() == 0 &&
         embargoes_.size() == 0 && loopbacks_owed_ == 0;
}

void Session::check_quiet() {
  if (!on_quiet_ || quiet_posted_ || !open_ || !quiet()) return;
  // Checked in the middle of sends and reads: the close waits for a turn of
  // its own, and looks again (a call may have come in meanwhile).
  quiet_posted_ = true;
  boost::asio::post(vat_.io(), [self = Ptr<Session>(this)] {
    self->quiet_posted_ = false;
    if (!self->open_ || !self->on_quiet_ || !self->quiet()) return;
    auto cb = std::move(self->on_quiet_);
    cb();
  });
}

void Session::close(const std::string& reason) {
  if (!open_) return;
  Ptr<Session> keep(this);
  channel_->close(reason);
  on_channel_closed(Error{ErrorKind::disconnected, fmt::format("closed locally: {}", reason)});
}

void Session::abort(const Error& e) {
  if (!open_ || aborting_) return;
  aborting_ = true;
  Ptr<Session> keep(this);
  send([&](wire::Message::Builder out) { write_error(e, out.initAbort()); });
  channel_->close(e.reason);
  on_channel_closed(e);
}

void Session::on_channel_closed(const Error& e) {
  if (!open_) return;
  Ptr<Session> keep(this);
  open_ = false;
  closed_ = e;
  sweep_.cancel();
  // Ended by a message (the peer's abort): the channel is still open.
  if (channel_->is_open()) channel_->abort(e);
  break_everything(broken_error());
  if (auto cb = std::move(on_closed_)) cb(e);
  // The channel may be on the stack below us: let it go after this turn.
  boost::asio::post(vat_.io(), [ch = std::move(channel_)] {});
}

}  // namespace vatic::captp
