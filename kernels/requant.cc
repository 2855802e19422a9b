#include "kernels/requant.h"

#include <math.h>

namespace kiln {

MultiplierStatus QuantizeMultiplier(double real, int32_t* multiplier,
                                    int32_t* shift) {
  *multiplier = 0;
  *shift = 0;
  if (!(real >= 0.0) || !isfinite(real)) {
    return MultiplierStatus::kNegativeOrNotFinite;
  }
  if (real == 0.0) return MultiplierStatus::kOk;
  int exponent = 0;
  const double q = frexp(real, &exponent);  // q in [0.5, 1)
  // q * 2^31 is exact in double; llround rounds half away from zero.
  int64_t m = llround(q * 2147483648.0);
  if (m == (int64_t(1) << 31)) {
    m >>= 1;
    ++exponent;
  }
  if (exponent < kMinShift) return MultiplierStatus::kOk;  // underflow -> 0
  if (exponent > kMaxShift) return MultiplierStatus::kTooLarge;
  *multiplier = static_cast<int32_t>(m);
  *shift = exponent;
  return MultiplierStatus::kOk;
}

}  // namespace kiln
