// Entry points of the per-ISA kernels, one per (op, ISA). Each lives in its
// own translation unit named <type>_<op>_<tile>__<isa>.cc beside its scalar
// twin, compiled with that ISA's flags only (kernels/CMakeLists.txt); nothing
// calls them except through the dispatch table after run-time detection.
#ifndef KILN_KERNELS_UKERNELS_H_
#define KILN_KERNELS_UKERNELS_H_

#include "kernels/dispatch.h"

namespace kiln {

// GEMM (kernels/qs8_gemm/).
void qs8_gemm__scalar(const GemmRows& a, const PackedGemm& w,
                      const GemmOutput& out, void* kernel_scratch);
void qs8_gemm__avx2(const GemmRows& a, const PackedGemm& w,
                    const GemmOutput& out, void* kernel_scratch);
void qs8_gemm__avxvnni(const GemmRows& a, const PackedGemm& w,
                       const GemmOutput& out, void* kernel_scratch);
void qs8_gemm__avx512vnni(const GemmRows& a, const PackedGemm& w,
                          const GemmOutput& out, void* kernel_scratch);
void qs8_gemm__amx(const GemmRows& a, const PackedGemm& w,
                   const GemmOutput& out, void* kernel_scratch);
void qs8_gemm__neon(const GemmRows& a, const PackedGemm& w,
                    const GemmOutput& out, void* kernel_scratch);
void qs8_gemm__neondot(const GemmRows& a, const PackedGemm& w,
                       const GemmOutput& out, void* kernel_scratch);

// Depthwise convolution (kernels/qs8_dwconv/).
void qs8_dwconv__scalar(const Conv2DParams& p, const int8_t* input,
                        const PackedDw& w, int8_t* output, void* scratch);
void qs8_dwconv__avx2(const Conv2DParams& p, const int8_t* input,
                      const PackedDw& w, int8_t* output, void* scratch);
void qs8_dwconv__avx512vnni(const Conv2DParams& p, const int8_t* input,
                            const PackedDw& w, int8_t* output, void* scratch);
// 3x3, stride 1, padding 1 with 16, 32, 64 or 64n channels (called by
// qs8_dwconv__avx512vnni; false, having done nothing, for other shapes).
bool qs8_dwconv_3x3p1__avx512vnni(const Conv2DParams& p, const int8_t* input,
                                  const PackedDw& w, int8_t* output,
                                  void* scratch);
void qs8_dwconv__neon(const Conv2DParams& p, const int8_t* input,
                      const PackedDw& w, int8_t* output, void* scratch);

// Elementwise and pooling (kernels/qs8_elementwise/); the scalar path uses
// the reference kernels for these.
void qs8_vadd__avx2(const AddParams& p, const int8_t* input1,
                    const int8_t* input2, int8_t* output);
void qs8_maxpool__avx2(const Pool2DParams& p, const int8_t* input,
                       int8_t* output);
void qs8_avgpool__avx2(const Pool2DParams& p, const int8_t* input,
                       int8_t* output);
void qs8_gavgpool__avx2(const GlobalAveragePoolParams& p, const int8_t* input,
                        int8_t* output);
void qs8_vadd__neon(const AddParams& p, const int8_t* input1,
                    const int8_t* input2, int8_t* output);
void qs8_maxpool__neon(const Pool2DParams& p, const int8_t* input,
                       int8_t* output);
void qs8_avgpool__neon(const Pool2DParams& p, const int8_t* input,
                       int8_t* output);
void qs8_gavgpool__neon(const GlobalAveragePoolParams& p, const int8_t* input,
                        int8_t* output);

// float32 -> int8 Quantize (kernels/qs8_elementwise/f32_qs8_quantize_*).
// The scalar twin is the scalar path's; the reference path keeps
// ref::QuantizeFromFloat.
void f32_qs8_quantize__scalar(const QuantizeFloatParams& p, const float* input,
                              int8_t* output);
void f32_qs8_quantize__avx2(const QuantizeFloatParams& p, const float* input,
                            int8_t* output);
void f32_qs8_quantize__avx512(const QuantizeFloatParams& p, const float* input,
                              int8_t* output);
void f32_qs8_quantize__neon(const QuantizeFloatParams& p, const float* input,
                            int8_t* output);

}  // namespace kiln

#endif  // KILN_KERNELS_UKERNELS_H_
