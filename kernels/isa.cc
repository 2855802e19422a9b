// Run-time CPU detection. The mask is computed once and cached; detection
// reads CPU feature registers and asks the OS, so it never faults on a CPU
// that lacks a feature.
#include "kernels/isa.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace kiln {
namespace {

constexpr const char* kNames[] = {"ref",        "scalar", "avx2", "avxvnni",
                                  "avx512vnni", "amx",    "neon", "neondot"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) ==
                  static_cast<size_t>(Isa::kCount),
              "one name per path");

constexpr uint32_t Bit(Isa isa) { return uint32_t(1) << static_cast<int>(isa); }

#if defined(__x86_64__) && defined(KILN_HAVE_X86_KERNELS)

uint64_t ReadXcr0() {
  uint32_t eax, edx;
  // xgetbv with ecx = 0; encoded as bytes so no -mxsave is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

// Linux keeps AMX tile data off until a process asks for it; without the
// grant the first tile instruction faults. Returns true when granted.
bool RequestAmxPermission() {
#if defined(__linux__)
  constexpr long kArchGetXcompPerm = 0x1022;
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    return false;
  }
  unsigned long bitmask = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bitmask) != 0) return false;
  return (bitmask & (1ul << kXfeatureXtiledata)) != 0;
#else
  return false;
#endif
}

uint32_t DetectX86() {
  uint32_t mask = 0;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return mask;
  const bool osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
  const bool fma = (ecx >> 12) & 1;
  if (!osxsave || !avx) return mask;
  const uint64_t xcr0 = ReadXcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16
  const bool os_tiles = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  if (__get_cpuid_max(0, nullptr) < 7) return mask;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = (ebx >> 5) & 1;
  const bool avx512f = (ebx >> 16) & 1, avx512dq = (ebx >> 17) & 1;
  const bool avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
  const bool avx512vnni = (ecx >> 11) & 1;
  const bool amx_tile = (edx >> 24) & 1, amx_int8 = (edx >> 25) & 1;
  const uint32_t max_subleaf = eax;
  bool avxvnni = false;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    avxvnni = (eax >> 4) & 1;
  }
  if (os_ymm && avx2 && fma) mask |= Bit(Isa::kAvx2);
  if (os_ymm && avx2 && avxvnni) mask |= Bit(Isa::kAvxVnni);
  const bool avx512 = os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
  if (avx512 && avx512vnni && avx2) mask |= Bit(Isa::kAvx512Vnni);
  if ((mask & Bit(Isa::kAvx512Vnni)) && amx_tile && amx_int8 && os_tiles &&
      RequestAmxPermission()) {
    mask |= Bit(Isa::kAmx);
  }
  return mask;
}

#endif

#if defined(__aarch64__) && defined(KILN_HAVE_ARM_KERNELS)

uint32_t DetectArm() {
  uint32_t mask = Bit(Isa::kNeon);  // Advanced SIMD is mandatory on AArch64
#if defined(__linux__)
  constexpr unsigned long kHwcapAsimdDp = 1ul << 20;
  if (getauxval(AT_HWCAP) & kHwcapAsimdDp) mask |= Bit(Isa::kNeonDot);
#endif
  return mask;
}

#endif

uint32_t Detect() {
  uint32_t mask = Bit(Isa::kRef) | Bit(Isa::kScalar);
#if defined(__x86_64__) && defined(KILN_HAVE_X86_KERNELS)
  mask |= DetectX86();
#endif
#if defined(__aarch64__) && defined(KILN_HAVE_ARM_KERNELS)
  mask |= DetectArm();
#endif
  return mask;
}

}  // namespace

uint32_t SupportedIsaMask() {
  // Benign race: every thread computes the same value.
  static uint32_t cached = 0;
  uint32_t mask = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
  if (mask == 0) {
    mask = Detect();
    __atomic_store_n(&cached, mask, __ATOMIC_RELEASE);
  }
  return mask;
}

Isa BestIsa(uint32_t mask) {
  // Preference order, fastest first.
  constexpr Isa kOrder[] = {Isa::kAmx,    Isa::kAvx512Vnni, Isa::kAvxVnni,
                            Isa::kAvx2,   Isa::kNeonDot,    Isa::kNeon,
                            Isa::kScalar, Isa::kRef};
  for (Isa isa : kOrder) {
    if (mask & Bit(isa)) return isa;
  }
  return Isa::kRef;
}

const char* IsaName(Isa isa) {
  const int i = static_cast<int>(isa);
  return (i >= 0 && i < static_cast<int>(Isa::kCount)) ? kNames[i] : "unknown";
}

bool IsaFromName(const char* name, Isa* isa) {
  if (name == nullptr) return false;
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    if (strcmp(name, kNames[i]) == 0) {
      *isa = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

}  // namespace kiln
