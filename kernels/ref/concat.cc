// Reference Concat. The concatenation axis splits every tensor into `outer`
// rows; output row r is input 0's row r, then input 1's row r, and so on.
#include <string.h>

#include "kernels/params.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant.h"

namespace kiln {
namespace ref {

void Concat(const ConcatParams& p, const int8_t* const* inputs,
            int8_t* output) {
  int8_t* out = output;
  for (int32_t r = 0; r < p.outer; ++r) {
    for (int32_t i = 0; i < p.num_inputs; ++i) {
      const int32_t n = p.inner[i];
      const int8_t* in = inputs[i] + r * n;
      if (p.multiplier[i] == 0) {
        // Multiplier 0 marks an input quantized exactly like the output.
        memcpy(out, in, static_cast<size_t>(n));
      } else {
        for (int32_t k = 0; k < n; ++k) {
          out[k] = static_cast<int8_t>(Requantize(
              int32_t(in[k]) - p.input_zero_point[i], p.multiplier[i],
              p.shift[i], p.output_zero_point, -128, 127));
        }
      }
      out += n;
    }
  }
}

}  // namespace ref
}  // namespace kiln
