// One kernel table per ISA path. Paths of the other architecture are not
// compiled at all; paths of this architecture are compiled whatever the
// build machine is, and chosen at run time (kernels/isa.h).
#include "kernels/dispatch.h"

#include "kernels/ref/ref_kernels.h"
#include "kernels/ukernels.h"

namespace kiln {
namespace {

KernelTable ReferenceTable(Isa isa) {
  KernelTable t;
  t.isa = isa;
  t.gemm_input = GemmInput::kInt8;
  t.gemm = nullptr;
  t.gemm_reads_raw_rows = false;
  t.dwconv = nullptr;
  t.add = ref::Add;
  t.max_pool = ref::MaxPool2D;
  t.average_pool = ref::AveragePool2D;
  t.global_average_pool = ref::GlobalAveragePool;
  t.quantize_float = ref::QuantizeFromFloat;
  return t;
}

}  // namespace

bool GetKernelTable(Isa isa, KernelTable* table) {
  KernelTable t = ReferenceTable(isa);
  switch (isa) {
    case Isa::kRef:
      break;
    case Isa::kScalar:
      t.gemm = qs8_gemm__scalar;
      t.dwconv = qs8_dwconv__scalar;
      t.quantize_float = f32_qs8_quantize__scalar;
      break;
#if defined(KILN_HAVE_X86_KERNELS)
    case Isa::kAvx2:
    case Isa::kAvxVnni:
    case Isa::kAvx512Vnni:
    case Isa::kAmx:
      t.gemm_input = GemmInput::kUint8Offset128;
      t.gemm_reads_raw_rows = true;
      t.gemm = isa == Isa::kAvx2         ? qs8_gemm__avx2
               : isa == Isa::kAvxVnni    ? qs8_gemm__avxvnni
               : isa == Isa::kAvx512Vnni ? qs8_gemm__avx512vnni
                                         : qs8_gemm__amx;
      t.dwconv = (isa == Isa::kAvx2 || isa == Isa::kAvxVnni)
                     ? qs8_dwconv__avx2
                     : qs8_dwconv__avx512vnni;
      t.add = qs8_vadd__avx2;
      t.max_pool = qs8_maxpool__avx2;
      t.average_pool = qs8_avgpool__avx2;
      t.global_average_pool = qs8_gavgpool__avx2;
      t.quantize_float = (isa == Isa::kAvx2 || isa == Isa::kAvxVnni)
                             ? f32_qs8_quantize__avx2
                             : f32_qs8_quantize__avx512;
      break;
#endif
#if defined(KILN_HAVE_ARM_KERNELS)
    case Isa::kNeon:
    case Isa::kNeonDot:
      t.gemm = isa == Isa::kNeon ? qs8_gemm__neon : qs8_gemm__neondot;
      t.dwconv = qs8_dwconv__neon;
      t.add = qs8_vadd__neon;
      t.max_pool = qs8_maxpool__neon;
      t.average_pool = qs8_avgpool__neon;
      t.global_average_pool = qs8_gavgpool__neon;
      t.quantize_float = f32_qs8_quantize__neon;
      break;
#endif
    default:
      return false;
  }
  *table = t;
  return true;
}

}  // namespace kiln
