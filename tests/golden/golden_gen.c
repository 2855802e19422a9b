/* Deterministic golden inputs. The committed input files were written by
 * `golden_run gen` once; they are data, so changing this generator later
 * changes nothing until someone regenerates them on purpose. */
#include "tests/golden/golden_gen.h"

#include <float.h>
#include <string.h>

/* xorshift32: tiny, seeded, the same sequence everywhere. */
static uint32_t next_random(uint32_t* state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

static float float_from_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Element e of item `item`: extremes first, then random. */
static int32_t int_element(int32_t lo, int32_t hi, size_t item, size_t e,
                           uint32_t* state) {
  switch (item) {
    case 0:
      return lo;
    case 1:
      return hi;
    case 2:
      return lo < 0 ? 0 : (lo + hi + 1) / 2; /* int8 0, uint8 128 */
    case 3:
      return (e & 1) ? hi : lo;
    case 4:
      return lo + (int32_t)(e % (size_t)(hi - lo + 1));
    default:
      return lo + (int32_t)(next_random(state) % (uint32_t)(hi - lo + 1));
  }
}

static float float_element(size_t item, size_t e, uint32_t* state) {
  /* Bit patterns, not literals: -0.0f, a quiet NaN, the smallest denormal. */
  const float neg_zero = float_from_bits(0x80000000u);
  const float nan = float_from_bits(0x7fc00000u);
  const float inf = float_from_bits(0x7f800000u);
  const float denormal = float_from_bits(0x00000001u);
  const uint32_t r = next_random(state);
  switch (item) {
    case 0:
      return 0.0f;
    case 1:
      return neg_zero;
    case 2:
      return FLT_MAX;
    case 3:
      return -FLT_MAX;
    case 4: {
      const float cycle[4] = {1e30f, -1e30f, denormal, -denormal};
      return cycle[e % 4];
    }
    case 5: {
      const float cycle[4] = {inf, -inf, nan, 1.0f};
      return cycle[e % 4];
    }
    default:
      break;
  }
  /* Mostly values a model sees ([-4, 4] in steps of 1/1000, rounded once),
   * with large magnitudes and signed zeros mixed in. */
  if (r % 13 == 0) return (r & 0x100) ? -1e6f : 3.5e5f;
  if (r % 17 == 0) return (r & 0x100) ? neg_zero : 0.0f;
  return (float)((int32_t)(r % 8001) - 4000) / 1000.0f;
}

void golden_fill_input(kiln_dtype dtype, int32_t input_index,
                       size_t item_elements, size_t n, void* host) {
  uint32_t state = 0x6b696c6eu ^ (uint32_t)(input_index + 1) * 0x9e3779b9u;
  for (size_t item = 0; item < n; ++item) {
    for (size_t e = 0; e < item_elements; ++e) {
      const size_t i = item * item_elements + e;
      switch (dtype) {
        case KILN_INT8:
          ((int8_t*)host)[i] = (int8_t)int_element(-128, 127, item, e, &state);
          break;
        case KILN_UINT8:
          ((uint8_t*)host)[i] = (uint8_t)int_element(0, 255, item, e, &state);
          break;
        case KILN_INT32:
          ((int32_t*)host)[i] = (int32_t)next_random(&state);
          break;
        case KILN_FLOAT32:
          ((float*)host)[i] = float_element(item, e, &state);
          break;
      }
    }
  }
}
