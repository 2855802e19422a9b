#include "toolchain/train/range_calibration.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace kiln {
namespace train {

namespace {

// Probability given to a quantized bin that received no mass although the
// reference has some (only the edge bins, which hold the clipped outliers):
// the smoothing of the reference implementations (MXNet / TVM use 1e-4),
// which keeps the divergence finite but large.
constexpr double kSmoothing = 1e-4;

// Most a clip may saturate, as a fraction of all the values. The divergence
// is only meaningful for clips in the tails: a clip that cuts into the bulk
// (data far from 0, whose bins rise towards the clip edge) leaves a slice
// whose own normalized edge bin can match P's, so KL would call a clip that
// saturates nearly everything cheap.
constexpr double kMaxSaturated = 0.01;

// The histogram with what every candidate clip reuses: prefix sums (for the
// outliers) and count * log(count) per bin.
struct Prepared {
  const std::vector<double>* h = nullptr;
  std::vector<double> prefix;  // prefix[j] = h[0] + ... + h[j - 1]
  std::vector<double> plogp;

  // Values outside the bins [start, stop).
  double Outside(int32_t start, int32_t stop) const {
    return prefix[static_cast<size_t>(start)] + prefix.back() -
           prefix[static_cast<size_t>(stop)];
  }

  explicit Prepared(const std::vector<double>& histogram) : h(&histogram) {
    prefix.assign(histogram.size() + 1, 0.0);
    plogp.assign(histogram.size(), 0.0);
    for (size_t j = 0; j < histogram.size(); ++j) {
      prefix[j + 1] = prefix[j] + histogram[j];
      if (histogram[j] > 0) plogp[j] = histogram[j] * std::log(histogram[j]);
    }
  }
};

// KL(P || Q) for the clip of bins [zero_bin - a, zero_bin + b), following
// TensorRT's entropy calibration ("8-bit inference with TensorRT", 2017):
// - P, the reference: the clip's bins, with the counts below the clip added
//   to its first bin and those above to its last (clipped values saturate
//   there).
// - Q, the quantized version: Kiln quantizes the clip [lo, hi] to 256
//   levels, scale s = (hi - lo) / 255, zero exactly representable (levels
//   at multiples of s). Each bin goes to the level its centre rounds to;
//   a level's mass is spread evenly over its bins where P is nonzero. As in
//   TensorRT (and MXNet/TVM), Q is built from the clip's own counts, without
//   the outliers: a clip that cuts off much mass leaves P's edge bins far
//   above Q's, which is how clipping is charged against resolution. (Were
//   the outliers quantized too, a clip of exactly 256 bins would reproduce P
//   and always win.)
// Both are normalized; terms with P = 0 vanish.
double Divergence(const Prepared& ph, int32_t zero_bin, int32_t a, int32_t b) {
  const std::vector<double>& h = *ph.h;
  const int32_t n = static_cast<int32_t>(h.size());
  const int32_t start = zero_bin - a, stop = zero_bin + b, m = a + b;
  if (a < 0 || b < 0 || m < 1 || start < 0 || stop > n) {
    return std::numeric_limits<double>::infinity();
  }
  const double below = ph.prefix[static_cast<size_t>(start)];
  const double above = ph.prefix.back() - ph.prefix[static_cast<size_t>(stop)];
  const double total = ph.prefix.back();

  constexpr int32_t L = kActivationLevels;
  std::array<double, L> mass{}, sum_p{}, sum_plogp{};
  std::array<int32_t, L> nonzero{};
  const double levels_per_bin = static_cast<double>(L - 1) / m;
  const long level_of_lo = std::lround(-a * levels_per_bin);
  for (int32_t i = 0; i < m; ++i) {
    const double count = h[static_cast<size_t>(start + i)];
    double p = count;
    if (i == 0) p += below;
    if (i == m - 1) p += above;
    long level = std::lround((i + 0.5 - a) * levels_per_bin) - level_of_lo;
    level = std::min<long>(L - 1, std::max<long>(0, level));
    const size_t l = static_cast<size_t>(level);
    mass[l] += count;
    if (p > 0) {
      sum_p[l] += p;
      sum_plogp[l] += p == count ? ph.plogp[static_cast<size_t>(start + i)]
                                 : p * std::log(p);
      ++nonzero[l];
    }
  }
  double slice = 0;
  for (double v : mass) slice += v;
  if (!(slice > 0) || !(total > 0)) {
    return std::numeric_limits<double>::infinity();
  }
  // sum over bins of P log(P / Q), in counts; Q in counts of the slice.
  double acc = 0;
  double smoothed_bins = 0;
  for (int32_t l = 0; l < L; ++l) {
    const size_t k = static_cast<size_t>(l);
    if (nonzero[k] == 0) continue;
    double q = mass[k] / nonzero[k];
    if (!(q > 0)) {
      q = kSmoothing * slice;
      smoothed_bins += nonzero[k];
    }
    acc += sum_plogp[k] - sum_p[k] * std::log(q);
  }
  // p = P / total, q = Q / slice', slice' = slice with the smoothing mass:
  // sum p log(p / q) = acc / total + log(slice' / total).
  const double slice_q = slice * (1.0 + kSmoothing * smoothed_bins);
  return acc / total + std::log(slice_q / total);
}

// Strictly better by more than rounding noise: on ties the wider clip wins.
bool Better(double candidate, double best) {
  return candidate < best - 1e-12 * std::max(1.0, std::fabs(best));
}

// Best b (right edge, in bins from zero) for a fixed a, searching from the
// widest clip down; `*kl` is the divergence of (a, *b) on entry.
bool SearchRight(const Prepared& ph, int32_t zero_bin, int32_t min_width,
                 int32_t a, int32_t* b, double* kl) {
  const int32_t n = static_cast<int32_t>(ph.h->size());
  bool moved = false;
  for (int32_t cand = n - zero_bin; cand >= 0; --cand) {
    if (a + cand < min_width || a + cand < 1) break;
    if (ph.Outside(zero_bin - a, zero_bin + cand) >
        kMaxSaturated * ph.prefix.back())
      break;
    if (cand == *b) continue;
    const double d = Divergence(ph, zero_bin, a, cand);
    if (Better(d, *kl)) {
      *kl = d;
      *b = cand;
      moved = true;
    }
  }
  return moved;
}

bool SearchLeft(const Prepared& ph, int32_t zero_bin, int32_t min_width,
                int32_t b, int32_t* a, double* kl) {
  bool moved = false;
  for (int32_t cand = zero_bin; cand >= 0; --cand) {
    if (cand + b < min_width || cand + b < 1) break;
    if (ph.Outside(zero_bin - cand, zero_bin + b) >
        kMaxSaturated * ph.prefix.back())
      break;
    if (cand == *a) continue;
    const double d = Divergence(ph, zero_bin, cand, b);
    if (Better(d, *kl)) {
      *kl = d;
      *a = cand;
      moved = true;
    }
  }
  return moved;
}

}  // namespace

double KlDivergenceOfClip(const std::vector<double>& h, int32_t zero_bin,
                          int32_t a, int32_t b) {
  return Divergence(Prepared(h), zero_bin, a, b);
}

// Which clip: for a tensor with no negative values (zero_bin == 0: ReLU
// outputs, pools of them) only the max is searched. For a signed tensor
// TensorRT clips |x| symmetrically, but Kiln's activations are asymmetric
// (256 levels over [lo, hi]), so a symmetric clip would waste levels on a
// lopsided distribution (logits: a long positive tail, a short negative
// one), and a full search over (lo, hi) costs O(bins^3). Instead the two
// edges are searched in turn, each with the other fixed, starting from
// [min, max], until neither moves (at most 4 rounds): every step can only
// lower the divergence, so this ends in a clip that neither edge alone can
// improve. A clip spans at least kActivationLevels bins (as TensorRT's
// spans at least its 128 levels): narrower, the histogram could not show
// what quantization loses. It saturates at most kMaxSaturated of the values.
Range KlClipRange(const std::vector<double>& h, int32_t zero_bin,
                  double bin_width) {
  const int32_t n = static_cast<int32_t>(h.size());
  zero_bin = std::min(n, std::max(0, zero_bin));
  int32_t a = zero_bin, b = n - zero_bin;
  const int32_t min_width = std::min(n, kActivationLevels);
  if (n > kActivationLevels) {
    const Prepared ph(h);
    double kl = Divergence(ph, zero_bin, a, b);
    for (int round = 0; round < 4; ++round) {
      bool moved = false;
      if (n - zero_bin > 0)
        moved |= SearchRight(ph, zero_bin, min_width, a, &b, &kl);
      if (zero_bin > 0)
        moved |= SearchLeft(ph, zero_bin, min_width, b, &a, &kl);
      if (!moved || zero_bin == 0 || zero_bin == n) break;
    }
  }
  Range r;
  r.min = a == 0 ? 0.0f : static_cast<float>(-a * bin_width);
  r.max = b == 0 ? 0.0f : static_cast<float>(b * bin_width);
  return r;
}

RangeObserver::RangeObserver(const CalibrationParams& params)
    : params_(params) {}

void RangeObserver::Observe(const float* values, size_t count) {
  const bool keep = params_.method == CalibrationMethod::kPercentile &&
                    params_.percentile < 100.0;
  for (size_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) {
      ++non_finite_;
      continue;
    }
    if (count_ == 0) {
      min_ = max_ = v;
    } else {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    ++count_;
    if (keep) values_.push_back(v);
  }
}

bool RangeObserver::NeedsSecondPass() const {
  return params_.method == CalibrationMethod::kKl && non_finite_ == 0 &&
         count_ > 0 && min_ < max_;
}

void RangeObserver::StartHistogram() {
  const double lo = std::min(0.0, static_cast<double>(min_));
  const double hi = std::max(0.0, static_cast<double>(max_));
  const int32_t bins = std::max(1, params_.bins);
  bin_width_ = (hi - lo) / bins;
  // Bin edges at multiples of the width, so that 0 is an edge and a clip
  // of whole bins keeps 0 exactly representable.
  const double tolerance = 1e-6;
  int32_t neg = 0, pos = 0;
  if (lo < 0) {
    neg = static_cast<int32_t>(std::ceil(-lo / bin_width_ - tolerance));
    neg = std::min(bins, std::max(1, neg));
  }
  if (hi > 0) {
    pos = static_cast<int32_t>(std::ceil(hi / bin_width_ - tolerance));
    pos = std::min(bins + 1 - neg, std::max(1, pos));
  }
  zero_bin_ = neg;
  histogram_.assign(static_cast<size_t>(neg + pos), 0.0);
}

void RangeObserver::ObserveAgain(const float* values, size_t count) {
  if (!NeedsSecondPass()) {
    for (size_t i = 0; i < count; ++i) count_again_ += std::isfinite(values[i]);
    return;
  }
  if (histogram_.empty()) StartHistogram();
  const int32_t last = static_cast<int32_t>(histogram_.size()) - 1;
  for (size_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) continue;
    ++count_again_;
    if (v < min_ || v > max_) ++outside_;
    // Exact zeros (most of a ReLU output) stay out of the histogram: zero
    // is a level of every candidate grid, so they lose nothing whatever
    // the clip; binned, Q would spread their spike over all of level 0's
    // bins and charge wide clips for it.
    if (v == 0.0f) continue;
    const double bin = std::floor(v / bin_width_) + zero_bin_;
    const int32_t j = bin < 0      ? 0
                      : bin > last ? last
                                   : static_cast<int32_t>(bin);
    histogram_[static_cast<size_t>(j)] += 1.0;
  }
}

bool RangeObserver::Reduce(Range* range, std::string* error) {
  *range = Range();
  if (non_finite_ > 0) {
    *error = std::to_string(non_finite_) + " of " +
             std::to_string(non_finite_ + count_) +
             " calibration values are not finite (NaN or infinity)";
    return false;
  }
  if (count_ == 0) return true;
  range->min = min_;
  range->max = max_;
  if (min_ == max_) return true;
  switch (params_.method) {
    case CalibrationMethod::kMinMax:
      return true;
    case CalibrationMethod::kPercentile: {
      if (params_.percentile >= 100.0) return true;
      const int64_t n = static_cast<int64_t>(values_.size());
      const double q = params_.percentile / 100.0;
      const int64_t hi = std::min<int64_t>(
          n, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * n))));
      const int64_t lo = std::max<int64_t>(
          1, std::min<int64_t>(
                 n, static_cast<int64_t>(std::floor((1 - q) * n)) + 1));
      auto kth = [this](int64_t rank) {  // 1-based
        auto it = values_.begin() + (rank - 1);
        std::nth_element(values_.begin(), it, values_.end());
        return *it;
      };
      range->min = kth(lo);
      range->max = kth(hi);
      return true;
    }
    case CalibrationMethod::kKl: {
      if (count_again_ != count_ || outside_ > 0) {
        *error = "kl calibration: the second pass saw " +
                 std::to_string(count_again_) + " values (" +
                 std::to_string(outside_) +
                 " outside the first pass's range), the first " +
                 std::to_string(count_) + "; both must see the same values";
        return false;
      }
      const Range clip = KlClipRange(histogram_, zero_bin_, bin_width_);
      range->min = std::max(min_, clip.min);
      range->max = std::min(max_, clip.max);
      return true;
    }
  }
  return true;
}

bool ReduceRange(const std::vector<ValueSpan>& parts,
                 const CalibrationParams& params, Range* range,
                 std::string* error) {
  RangeObserver observer(params);
  for (const ValueSpan& s : parts) observer.Observe(s.data, s.size);
  if (observer.NeedsSecondPass()) {
    for (const ValueSpan& s : parts) observer.ObserveAgain(s.data, s.size);
  }
  return observer.Reduce(range, error);
}

}  // namespace train
}  // namespace kiln
