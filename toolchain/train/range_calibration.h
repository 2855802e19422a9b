// Activation range calibration: reduces the values a tensor takes on the
// calibration samples to the Range the quantizer turns into an int8 scale and
// zero point (ActivationQuantParams: the range widened to include 0, 256
// levels, scale = (max - min) / 255). No LibTorch.
//
//   RangeObserver obs(params.calibration);
//   for (each batch) obs.Observe(values, count);         // pass 1
//   if (obs.NeedsSecondPass())
//     for (each batch) obs.ObserveAgain(values, count);  // pass 2, same data
//   Range r;
//   if (!obs.Reduce(&r, &error)) ...
//
// The methods (CalibrationParams::method):
// - minmax: the observed [min, max], exact; one pass, O(1) memory.
// - percentile: [the (100 - p)th, the p-th] percentile of the values, exact
//   (the same ranks as torch::kthvalue: lo = floor((1 - q) n) + 1,
//   hi = ceil(q n), 1-based, clamped to [1, n]). One pass; the observer keeps
//   every value (4 bytes each) until Reduce. p >= 100 is minmax.
// - kl: TensorRT-style entropy calibration adapted to Kiln's asymmetric
//   grid. Pass 1 finds [min, max]; pass 2 fills a histogram of `bins` bins
//   over [min(min, 0), max(max, 0)] whose bin edges include 0, leaving out
//   exact zeros (exactly representable on every grid). The chosen
//   range is the one whose 256-level quantization loses the least
//   information, KL(P || Q), among clips of whole bins that saturate at most
//   1% of the binned values; see KlClipRange below. Memory: the histogram.
//
// Every method gives min == max == v when all values equal v, {0, 0} when
// there are none, and an error when a value is NaN or infinite.
#ifndef KILN_TOOLCHAIN_TRAIN_RANGE_CALIBRATION_H_
#define KILN_TOOLCHAIN_TRAIN_RANGE_CALIBRATION_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/train/float_model.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace train {

// Levels of an int8 activation (the quantizer's grid).
constexpr int32_t kActivationLevels = 256;

class RangeObserver {
 public:
  explicit RangeObserver(const CalibrationParams& params);

  // Pass 1: every value of every calibration batch, in any chunking.
  void Observe(const float* values, size_t count);

  // True when Reduce needs the same values a second time (kl: the histogram
  // spans the [min, max] pass 1 found).
  bool NeedsSecondPass() const;
  // Pass 2 (only when NeedsSecondPass): the same values again, in any
  // chunking. Reduce fails if the two passes saw a different number of
  // values.
  void ObserveAgain(const float* values, size_t count);

  // The calibrated range. False and *error on non-finite values or
  // inconsistent passes. May reorder the values kept for percentile.
  bool Reduce(Range* range, std::string* error);

  // Pass-1 statistics (finite values only).
  size_t count() const { return count_; }
  float min() const { return min_; }
  float max() const { return max_; }

 private:
  CalibrationParams params_;
  size_t count_ = 0;
  size_t non_finite_ = 0;
  float min_ = 0.0f, max_ = 0.0f;
  std::vector<float> values_;  // percentile only

  // kl, pass 2: bins of width bin_width_; bin j covers
  // [(j - zero_bin_) * w, (j - zero_bin_ + 1) * w).
  std::vector<double> histogram_;
  int32_t zero_bin_ = 0;
  double bin_width_ = 0.0;
  size_t count_again_ = 0, outside_ = 0;
  void StartHistogram();
};

// The KL search on a histogram (exposed for tests). `histogram[j]` counts
// the values in [(j - zero_bin) * w, (j - zero_bin + 1) * w), the first and
// last bins holding everything below / above; zero_bin in
// [0, histogram.size()]. Returns the chosen clip {-a * w, b * w}
// (a, b whole bins, a <= zero_bin, b <= size - zero_bin), which always
// includes 0. With fewer than kActivationLevels bins it is the whole
// histogram; otherwise the clip spans at least kActivationLevels bins and
// saturates (leaves outside) at most 1% of the counts.
Range KlClipRange(const std::vector<double>& histogram, int32_t zero_bin,
                  double bin_width);

// KL(P || Q) of the clip [-a * w, b * w] (the quantity KlClipRange
// minimizes; +infinity when the clip holds no values).
double KlDivergenceOfClip(const std::vector<double>& histogram,
                          int32_t zero_bin, int32_t a, int32_t b);

// A chunk of values held by the caller.
struct ValueSpan {
  const float* data = nullptr;
  size_t size = 0;
};

// Runs every pass a RangeObserver needs over `parts`.
bool ReduceRange(const std::vector<ValueSpan>& parts,
                 const CalibrationParams& params, Range* range,
                 std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_RANGE_CALIBRATION_H_
