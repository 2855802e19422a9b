// The kernels of one ISA path, gathered in a table the runtime copies into
// its context at init. A null GEMM/depthwise entry means "use the reference
// kernel" (the kRef path has no prepacked weights at all).
#ifndef KILN_KERNELS_DISPATCH_H_
#define KILN_KERNELS_DISPATCH_H_

#include <stdint.h>

#include "kernels/dwconv.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/params.h"

namespace kiln {

typedef void (*AddKernel)(const AddParams& p, const int8_t* input1,
                          const int8_t* input2, int8_t* output);
typedef void (*Pool2DKernel)(const Pool2DParams& p, const int8_t* input,
                             int8_t* output);
typedef void (*QuantizeFloatKernel)(const QuantizeFloatParams& p,
                                    const float* input, int8_t* output);
typedef void (*GlobalAveragePoolKernel)(const GlobalAveragePoolParams& p,
                                        const int8_t* input, int8_t* output);

struct KernelTable {
  Isa isa;
  GemmInput gemm_input;  // encoding the GEMM kernel reads
  GemmKernel gemm;       // null: reference FullyConnected / Conv2D
  // The GEMM kernel takes raw int8 rows in place (GemmRows::flip).
  bool gemm_reads_raw_rows;
  DwConvKernel dwconv;  // null: reference Conv2D for depthwise
  AddKernel add;
  Pool2DKernel max_pool;
  Pool2DKernel average_pool;
  GlobalAveragePoolKernel global_average_pool;
  QuantizeFloatKernel quantize_float;  // float32 -> int8 Quantize
};

// Fills `table` for `isa`. Returns false if the path is not compiled into
// this binary (the CPU is not consulted: see SupportedIsaMask).
bool GetKernelTable(Isa isa, KernelTable* table);

}  // namespace kiln

#endif  // KILN_KERNELS_DISPATCH_H_
