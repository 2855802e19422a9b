// Instruction-set paths of the INT8 kernels and the run-time CPU detection
// that picks one (docs/runtime.md, "Kernel paths"). Every path produces the
// same bytes as the reference kernels; a path only changes speed.
#ifndef KILN_KERNELS_ISA_H_
#define KILN_KERNELS_ISA_H_

#include <stdint.h>

namespace kiln {

// Order matters only for BestIsa (a later path of the same architecture is
// preferred). Values are stable: tests and the environment variable name
// them by IsaName.
enum class Isa : int32_t {
  kRef = 0,         // reference kernels (kernels/ref), no prepacking
  kScalar = 1,      // prepacked layout, portable C twins of the SIMD kernels
  kAvx2 = 2,        // x86 AVX2 (int16 multiply-add, never vpmaddubsw)
  kAvxVnni = 3,     // x86 AVX-VNNI (256-bit vpdpbusd)
  kAvx512Vnni = 4,  // x86 AVX-512 F/BW/VL/DQ + VNNI
  kAmx = 5,         // x86 AMX-INT8 tiles for GEMM, AVX-512 VNNI elsewhere
  kNeon = 6,        // AArch64 Advanced SIMD (int16 multiply-accumulate)
  kNeonDot = 7,     // AArch64 + dot product (sdot)
  kCount = 8,
};

// Bit (1 << int(isa)) is set for every path this binary was compiled with
// and this CPU (and OS) can run. kRef and kScalar are always set. The first
// call probes the CPU (cpuid/xgetbv on x86, getauxval on AArch64) and asks
// the kernel for AMX tile state; later calls return the cached mask.
uint32_t SupportedIsaMask();

// The fastest path in `mask`.
Isa BestIsa(uint32_t mask);

// Stable lower-case name: "ref", "scalar", "avx2", "avxvnni", "avx512vnni",
// "amx", "neon", "neondot".
const char* IsaName(Isa isa);

// Inverse of IsaName; false for an unknown name.
bool IsaFromName(const char* name, Isa* isa);

// The environment variable that forces a path (tests, benchmarks).
constexpr const char* kIsaEnvVar = "KILN_ISA";

}  // namespace kiln

#endif  // KILN_KERNELS_ISA_H_
