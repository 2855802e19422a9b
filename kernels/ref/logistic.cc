// Reference Logistic: the whole function, quantization included, is baked
// into a 256-entry table by the toolchain; x + 128 maps int8 to 0..255.
#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"

namespace kiln {
namespace ref {

void Logistic(const LogisticParams& p, const int8_t* input, int8_t* output) {
  for (int32_t i = 0; i < p.size; ++i) {
    output[i] = p.table[int32_t(input[i]) + 128];
  }
}

}  // namespace ref
}  // namespace kiln
