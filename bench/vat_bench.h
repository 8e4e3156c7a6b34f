// What vat_bench's source files share: the check that aborts a run whose
// result is wrong, and the workloads defined outside vat_bench.cpp.
#pragma once

namespace vat_bench {

[[noreturn]] void fail(const char* what);

// vat_bench_supervise.cpp
void bench_supervise_restart();
void bench_supervise_rate();

// vat_bench_objects.cpp
void bench_object_memory();
void bench_object_curve();

}  // namespace vat_bench
