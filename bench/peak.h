// Physical-limit loops for the kernel benchmark's "pct_peak" counters: each
// runs `iters` iterations of one multiply-accumulate instruction mix on
// register (or tile) operands with enough independent accumulators to hide
// the latency, and returns the INT8 MACs it performed. Each lives in its own
// translation unit compiled with only that ISA's flags (bench/CMakeLists.txt)
// and may run only when kiln::SupportedIsaMask() has the matching path.
// x86-64 only.
#ifndef KILN_BENCH_PEAK_H_
#define KILN_BENCH_PEAK_H_

#include <stdint.h>

namespace kiln {
namespace bench {

// vpdpbusd zmm, 24 accumulators: 64 MACs per instruction.
uint64_t PeakLoopVnni512(uint64_t iters);
// AVX-VNNI {vex} vpdpbusd ymm, 12 accumulators: 32 MACs per instruction.
uint64_t PeakLoopVnni256(uint64_t iters);
// vpmaddubsw + vpmaddwd + vpaddd ymm, 8 chains: 32 MACs per triple (the
// pre-VNNI path; what an AVX2 kernel could reach at most).
uint64_t PeakLoopAvx2Maddubs(uint64_t iters);
// AMX tdpbusd on 4 independent 16x16 int32 tiles with operands held in
// tiles: 16 * 16 * 64 MACs per instruction. Needs the AMX permission
// (SupportedIsaMask asks the kernel for it).
uint64_t PeakLoopAmx(uint64_t iters);

}  // namespace bench
}  // namespace kiln

#endif  // KILN_BENCH_PEAK_H_
