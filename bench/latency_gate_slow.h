// Test-only: makes a context's kernels deliberately slower, so that the
// latency gate can show it catches a real regression. Production code is not
// touched: this swaps entries of the context's kernel table (the private
// kiln_context::kernels, runtime/src/internal.h) for wrappers that run the
// real kernel `factor` times as often (1.2: one call in five runs twice).
#ifndef KILN_BENCH_LATENCY_GATE_SLOW_H_
#define KILN_BENCH_LATENCY_GATE_SLOW_H_

#include <string>

#include "kiln/kiln.h"

namespace kiln {
namespace gate {

// `spec` is KIND:FACTOR with KIND one of gemm, dwconv, add, pool (max,
// average and global average pooling) or all, and FACTOR > 1 (1.25: each
// wrapped kernel does 25% more work). Applies to every context passed;
// all must be on the same kernel path. Returns false and sets *error on a
// bad spec or a mixed path.
bool ParseSlowKernelSpec(const std::string& spec, std::string* kind,
                         double* factor, std::string* error);
bool SlowDownKernels(kiln_context* ctx, const std::string& kind, double factor,
                     std::string* error);

}  // namespace gate
}  // namespace kiln

#endif  // KILN_BENCH_LATENCY_GATE_SLOW_H_
