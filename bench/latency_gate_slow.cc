#include "bench/latency_gate_slow.h"

#include <stdlib.h>

#include "kernels/dispatch.h"
#include "runtime/src/internal.h"

namespace kiln {
namespace gate {
namespace {

// The real kernels and the factor. A kernel table entry is a plain function
// pointer, so the wrappers find the function they wrap here; one path per
// process is enough for a benchmark program.
struct Originals {
  bool set = false;
  KernelTable table;
  double factor = 1.0;
};
Originals g_real;

// Extra calls owed per kernel kind. Each call of a slowed kernel adds
// (factor - 1) and runs the kernel again whenever a whole call is owed, so
// over many calls the kernel does exactly `factor` times its work: no clock
// reads, whose cost would dwarf the sub-microsecond calls of batch 1. A
// second run is harmless: kernels read their inputs and overwrite their
// outputs, which never overlap (the memory plan keeps an operator's input
// and output tensors apart).
struct Debt {
  double owed = 0;
  // Runs `call` once, plus once more per whole call owed.
  template <typename F>
  void Run(F call) {
    call();
    owed += g_real.factor - 1.0;
    while (owed >= 1.0) {
      call();
      owed -= 1.0;
    }
  }
};
Debt g_gemm, g_dwconv, g_add, g_pool;

void SlowGemm(const GemmRows& a, const PackedGemm& w, const GemmOutput& out,
              void* scratch) {
  g_gemm.Run([&] { g_real.table.gemm(a, w, out, scratch); });
}

void SlowDwConv(const Conv2DParams& p, const int8_t* input, const PackedDw& w,
                int8_t* output, void* scratch) {
  g_dwconv.Run([&] { g_real.table.dwconv(p, input, w, output, scratch); });
}

void SlowAdd(const AddParams& p, const int8_t* a, const int8_t* b,
             int8_t* out) {
  g_add.Run([&] { g_real.table.add(p, a, b, out); });
}

void SlowMaxPool(const Pool2DParams& p, const int8_t* in, int8_t* out) {
  g_pool.Run([&] { g_real.table.max_pool(p, in, out); });
}

void SlowAveragePool(const Pool2DParams& p, const int8_t* in, int8_t* out) {
  g_pool.Run([&] { g_real.table.average_pool(p, in, out); });
}

void SlowGlobalAveragePool(const GlobalAveragePoolParams& p, const int8_t* in,
                           int8_t* out) {
  g_pool.Run([&] { g_real.table.global_average_pool(p, in, out); });
}

}  // namespace

bool ParseSlowKernelSpec(const std::string& spec, std::string* kind,
                         double* factor, std::string* error) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    *error = "--slow-kernel wants KIND:FACTOR, e.g. gemm:1.25";
    return false;
  }
  *kind = spec.substr(0, colon);
  if (*kind != "gemm" && *kind != "dwconv" && *kind != "add" &&
      *kind != "pool" && *kind != "all") {
    *error = "--slow-kernel: unknown kind '" + *kind +
             "' (gemm, dwconv, add, pool, all)";
    return false;
  }
  char* end = nullptr;
  const std::string number = spec.substr(colon + 1);
  *factor = strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !(*factor > 1.0 && *factor <= 10.0)) {
    *error = "--slow-kernel: FACTOR must be a number in (1, 10]";
    return false;
  }
  return true;
}

bool SlowDownKernels(kiln_context* ctx, const std::string& kind, double factor,
                     std::string* error) {
  KernelTable& table = ctx->kernels;
  if (!g_real.set) {
    g_real.table = table;
    g_real.factor = factor;
    g_real.set = true;
  } else if (g_real.table.isa != table.isa || g_real.factor != factor) {
    *error = "--slow-kernel: contexts on different kernel paths";
    return false;
  }
  const bool all = kind == "all";
  // A null GEMM or depthwise entry means "reference kernel" (kRef path):
  // nothing to wrap there.
  if ((all || kind == "gemm") && table.gemm != nullptr) {
    table.gemm = SlowGemm;
  }
  if ((all || kind == "dwconv") && table.dwconv != nullptr) {
    table.dwconv = SlowDwConv;
  }
  if (all || kind == "add") table.add = SlowAdd;
  if (all || kind == "pool") {
    table.max_pool = SlowMaxPool;
    table.average_pool = SlowAveragePool;
    table.global_average_pool = SlowGlobalAveragePool;
  }
  return true;
}

}  // namespace gate
}  // namespace kiln
