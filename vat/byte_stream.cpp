// The client side of a stream (spec/model.md, "Streams"): a window counted
// where the chunks are sent, so that it holds alike for a sink in this vat,
// in another vat of the process, or behind CapTP. Cap'n Proto keeps its
// window in the RPC connection and sends a streaming call before waiting
// (the window may be overshot by one message); here a chunk waits for room
// before it is sent, so the bytes in flight never exceed the window.
#include "vat/byte_stream.h"

#include <algorithm>
#include <deque>
#include <utility>

#include <fmt/format.h>

namespace vatic {

struct ByteStream::State : std::enable_shared_from_this<State> {
  // open: writes accepted. ending: end() asked, waiting for the writes to be
  // sent and acknowledged. ended: sink.end() sent. aborted: abort() sent.
  // dropped: the ByteStream went before end() or abort().
  enum class Phase { open, ending, ended, aborted, dropped };

  struct Waiting {
    Bytes chunk;
    Resolver<void> sent;
  };

  Ref<ByteSink> sink;
  StreamWindow window;
  Phase phase = Phase::open;
  std::deque<Waiting> waiting;  // queued in order, each waiting for room
  Resolver<void> end_done;      // while ending
  std::size_t chunks = 0, bytes = 0, max_bytes = 0;
  std::uint64_t acked = 0;
  std::optional<Error> failed;

  bool room_for(std::size_t n) const {
    // A chunk larger than the byte bound goes alone, or it would never go.
    return chunks < window.max_chunks && (chunks == 0 || bytes + n <= window.max_bytes);
  }

  void send(Bytes chunk) {
    std::size_t n = chunk.size();
    ++chunks;
    bytes += n;
    max_bytes = std::max(max_bytes, bytes);
    // The acknowledgement keeps the state alive, not the ByteStream: a
    // stream dropped after end() still sends end() once the window drains.
    sink.send<&ByteSink::write>(std::move(chunk))
        .then([self = shared_from_this(), n] { self->acknowledged(n); },
              [self = shared_from_this(), n](const Error& e) {
                self->chunks -= 1;
                self->bytes -= n;
                self->fail(e);
              });
  }

  void acknowledged(std::size_t n) {
    chunks -= 1;
    bytes -= n;
    acked += n;
    pump();
    send_end_when_drained();
  }

  // Sends the waiting chunks that now fit, oldest first (E-order).
  void pump() {
    while (!failed && (phase == Phase::open || phase == Phase::ending) && !waiting.empty() &&
           room_for(waiting.front().chunk.size())) {
      Waiting w = std::move(waiting.front());
      waiting.pop_front();
      send(std::move(w.chunk));
      w.sent.resolve();
    }
  }

  void send_end_when_drained() {
    if (phase != Phase::ending || failed || !waiting.empty() || chunks != 0) return;
    phase = Phase::ended;
    Promise<void> ended = sink.send<&ByteSink::end>();
    end_done.resolve(ended.then([] {},
                                [self = shared_from_this()](const Error& e) {
                                  self->fail(e);
                                  throw VatError(e);
                                }));
  }

  // The stream's first failure is its Error for good; everything waiting
  // breaks with it. Settled from local copies: a continuation may call back.
  void fail(Error e) {
    if (failed) return;
    failed = e;
    std::deque<Waiting> queued = std::exchange(waiting, {});
    for (auto& w : queued) w.sent.reject(e);
    end_done.reject(e);
  }

  // Stops without a word to the sink: the queued chunks break, and the
  // reference goes (after the writes in flight, whose messages hold it).
  void drop() {
    phase = Phase::dropped;
    std::deque<Waiting> queued = std::exchange(waiting, {});
    for (auto& w : queued) w.sent.reject(Error{ErrorKind::failed, "the ByteStream was dropped before end()"});
    sink = {};
  }
};

namespace {

Error misuse(const char* what) { return Error{ErrorKind::failed, what}; }

}  // namespace

ByteStream::ByteStream(Ref<ByteSink> sink, StreamWindow window) : s_(std::make_shared<State>()) {
  if (!sink) throw_error(ErrorKind::failed, "ByteStream needs a sink, got an empty reference");
  if (window.max_chunks == 0 || window.max_bytes == 0)
    throw_error(ErrorKind::failed, fmt::format("ByteStream window of {} chunks and {} bytes: both must be 1 or more",
                                               window.max_chunks, window.max_bytes));
  s_->sink = std::move(sink);
  s_->window = window;
}

ByteStream::ByteStream(ByteStream&&) noexcept = default;

ByteStream& ByteStream::operator=(ByteStream&& o) noexcept {
  if (this != &o) {
    if (s_ && s_->phase == State::Phase::open) s_->drop();
    s_ = std::move(o.s_);
  }
  return *this;
}

ByteStream::~ByteStream() {
  // After end() the state finishes on its own (the caller may hold only the
  // promise end() returned); before it, nobody could ever call end().
  if (s_ && s_->phase == State::Phase::open) s_->drop();
}

Promise<void> ByteStream::write(Bytes chunk) {
  if (!s_) return Promise<void>::broken(misuse("write on a moved-from ByteStream"));
  State& s = *s_;
  if (s.failed) return Promise<void>::broken(*s.failed);
  if (s.phase != State::Phase::open) return Promise<void>::broken(misuse("write after the stream's end()"));
  if (chunk.empty()) return Promise<void>::resolved();
  if (s.waiting.empty() && s.room_for(chunk.size())) {
    s.send(std::move(chunk));
    return Promise<void>::resolved();
  }
  auto [sent, resolver] = make_promise<void>();
  s.waiting.push_back(State::Waiting{std::move(chunk), std::move(resolver)});
  return sent;
}

Promise<void> ByteStream::end() {
  if (!s_) return Promise<void>::broken(misuse("end on a moved-from ByteStream"));
  State& s = *s_;
  if (s.failed) return Promise<void>::broken(*s.failed);
  if (s.phase != State::Phase::open) return Promise<void>::broken(misuse("end() called twice on a ByteStream"));
  s.phase = State::Phase::ending;
  auto [done, resolver] = make_promise<void>();
  s.end_done = std::move(resolver);
  s.send_end_when_drained();
  return done;
}

Promise<void> ByteStream::abort(std::string reason) {
  if (!s_) return Promise<void>::broken(misuse("abort on a moved-from ByteStream"));
  State& s = *s_;
  if (s.failed || s.phase == State::Phase::ended || s.phase == State::Phase::aborted ||
      s.phase == State::Phase::dropped)
    return Promise<void>::resolved();
  s.fail(Error{ErrorKind::failed, "aborted: " + reason});
  s.phase = State::Phase::aborted;
  return s.sink.send<&ByteSink::abort>(std::move(reason));
}

std::size_t ByteStream::in_flight_chunks() const noexcept { return s_ ? s_->chunks : 0; }
std::size_t ByteStream::in_flight_bytes() const noexcept { return s_ ? s_->bytes : 0; }
std::size_t ByteStream::max_in_flight_bytes() const noexcept { return s_ ? s_->max_bytes : 0; }
std::uint64_t ByteStream::acknowledged_bytes() const noexcept { return s_ ? s_->acked : 0; }
std::optional<Error> ByteStream::error() const { return s_ ? s_->failed : std::nullopt; }
const StreamWindow& ByteStream::window() const noexcept {
  static const StreamWindow kNone{};
  return s_ ? s_->window : kNone;
}

}  // namespace vatic
