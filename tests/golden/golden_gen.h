/* Deterministic golden inputs (docs/reliability.md, "Inputs"). */
#ifndef KILN_TESTS_GOLDEN_GOLDEN_GEN_H_
#define KILN_TESTS_GOLDEN_GOLDEN_GEN_H_

#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

/* Fills `count` = n * item_elements host elements of dtype for n items of
 * graph input `input_index`: the first items are extremes (per dtype: the
 * minimum, the maximum, zero, alternating min/max, a ramp; for float32 also
 * -0, +-FLT_MAX, +-1e30 with denormals, +-inf and NaN), the rest seeded
 * pseudo-random values (floats mostly in [-4, 4], some large, some +-0). */
void golden_fill_input(kiln_dtype dtype, int32_t input_index,
                       size_t item_elements, size_t n, void* host);

#endif /* KILN_TESTS_GOLDEN_GOLDEN_GEN_H_ */
