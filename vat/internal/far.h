// Far references inside one process. When a reference leaves its vat (inside a
// message or a Portable) it becomes an ExportEntry: owned by the home vat, held
// by any thread through a shared_ptr, and dereferenced only on the home thread.
// The receiving vat wraps the entry in a FarHandler; sends through it are lowered
// to (method name, Values) and queued in the home vat's inbox. When the last
// holder drops the entry, a release turn frees it on the home thread; when the
// home vat is released first, the entry's target is already gone and sends fail
// with `disconnected`.
//
// Pipelining: a call whose result may be a reference carries an answer entry
// that the home vat binds to the call's result promise on arrival, so sends to
// the caller's promise go straight to the answering vat, with no round trip.
#pragma once

#include <memory>
#include <vector>

#include "vat/handler.h"
#include "vat/internal/vat_core.h"
#include "vat/promise_state.h"
#include "vat/value.h"

namespace vatic::detail {

struct ExportEntry {
  std::shared_ptr<VatCore> home;
  const void* identity = nullptr;  // immutable: what Ref equality compares
  bool promise = false;
  HandlerPtr target;            // home thread only; null once the home vat was released
  ExportEntry* prev = nullptr;  // registry links, guarded by home->mutex()
  ExportEntry* next = nullptr;
};

// Holds a target taken out of an entry during release, to drop on the home thread.
struct HandlerHold {
  HandlerPtr h;
};

// Exports `target` (a handler of the current vat).
TransitRef export_handler(HandlerPtr target);
// An unbound answer slot in `home`, to be bound when the call arrives there.
TransitRef make_answer_slot(const std::shared_ptr<VatCore>& home);

// A handler of the current vat for an entry: the target itself if the entry is
// home here, else a far handler.
HandlerPtr import_transit(const TransitRef& t);

// Replace every reference in a Value by its transit entry and back.
void pack_for_transit(Value& v);
void unpack_from_transit(Value& v);

class FarHandler final : public Handler {
 public:
  FarHandler(Vat* here, TransitRef entry) : Handler(here), entry_(std::move(entry)) {}

  void deliver(MessagePtr m) override;
  RefKind kind() const noexcept override;
  const void* identity() const noexcept override { return entry_->identity; }
  TransitRef to_transit() override { return entry_; }

 private:
  TransitRef entry_;
};

}  // namespace vatic::detail
