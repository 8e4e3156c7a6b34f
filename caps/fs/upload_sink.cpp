#include "caps/fs/upload_sink.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "vat/error.h"

namespace vatic::caps {

UploadSink::UploadSink(Ref<Upload> upload) : upload_(std::move(upload)) {}

Promise<void> UploadSink::write(Bytes chunk) {
  if (ended_) throw_error(ErrorKind::failed, "write after the stream's end() or abort()");
  // The offset is taken on arrival: writes may finish out of order on the
  // disk, but each lands where its place in the stream says.
  std::uint64_t at = offset_;
  offset_ += chunk.size();
  std::erase_if(writing_, [](const Promise<void>& p) { return !p.pending(); });
  Promise<void> written = write_at(at, std::move(chunk));
  writing_.push_back(written);
  return written;
}

Task<void> UploadSink::write_at(std::uint64_t at, Bytes chunk) {
  Ref<UploadSink> self = ref_to(this);
  try {
    co_await upload_.call<&Upload::write>(at, std::move(chunk));
  } catch (const VatError&) {
    // A broken write fails the stream (vat/byte_sink.h), and an Upload
    // stays open after a refused one (past max_bytes): end it now, so the
    // space returns before the producer lets go.
    upload_.call<&Upload::abort>();
    throw;
  }
}

Promise<void> UploadSink::end() {
  if (ended_) throw_error(ErrorKind::failed, "end() after the stream's end() or abort()");
  ended_ = true;
  return finish();
}

Task<void> UploadSink::finish() {
  Ref<UploadSink> self = ref_to(this);
  // A failed write broke the stream already and discarded the upload; its
  // Error is end()'s too.
  for (Promise<void>& p : std::exchange(writing_, {})) co_await p;
  upload_.call<&Upload::commit>();
}

void UploadSink::abort(std::string reason) {
  (void)reason;  // the producer's text: the upload's own reason is "aborted"
  ended_ = true;
  upload_.call<&Upload::abort>();
}

}  // namespace vatic::caps
