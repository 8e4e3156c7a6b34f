// UploadSink: an Upload (upload.h) written as a stream. It is the ByteSink
// (vat/byte_sink.h) that Directory::upload_sink(path) hands out, so that a
// producer anywhere, File::stream_to of another vat or process included,
// writes a file of any size through a ByteStream's window and the file never
// sits whole in memory on either side. Chunks go to consecutive offsets, in
// the order they arrive; end() waits for the writes still on their way to
// the disk, then commits (the file takes the target's name by one rename);
// abort(reason), a failed write, or the last reference going before end()
// leaves the target as it was (the Upload removes its temporary file).
// Lives in the Upload's vat; run only by that vat's thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caps/fs/upload.h"
#include "vat/byte_sink.h"
#include "vat/promise.h"
#include "vat/ref.h"
#include "vat/task.h"

namespace vatic::caps {

class UploadSink final : public ByteSink {
 public:
  explicit UploadSink(Ref<Upload> upload);

  Promise<void> write(Bytes chunk) override;
  Promise<void> end() override;
  void abort(std::string reason) override;

 private:
  Task<void> write_at(std::uint64_t at, Bytes chunk);
  Task<void> finish();

  Ref<Upload> upload_;  // near: the same vat
  std::uint64_t offset_ = 0;
  // Writes not known to be done; pruned as they settle. The producer's
  // window bounds them, and CapTP's max_answers any peer's.
  std::vector<Promise<void>> writing_;
  bool ended_ = false;
};

}  // namespace vatic::caps
