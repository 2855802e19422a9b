// Choosing a head's decision policy (top-k, confidence kind, threshold) from
// its int8 logits on the VALIDATION split.
//
// The confidences are the runtime's own: the logits are fed to a one-head
// model (an int8 input with the logits' scale and zero point, returned as
// the head's output) with threshold 0, and kiln_decision.confidence is
// read back, so they are bit-exact with what the deployed model computes.
//
// For each k in 1..min(classes, max_k), an item is a hit when its label is
// among the top-k candidates. The threshold T (on the integer grid the
// runtime compares against) is the one with the largest coverage (fraction
// of items with confidence >= T, i.e. accepted) such that at least `target`
// of the accepted items are hits. Among the k, the largest coverage wins,
// ties to the smaller k. threshold_real = T / 65536 (probabilities) or
// T * scale (margin), and the builder turns it back into exactly T (checked).
#ifndef KILN_TOOLCHAIN_TRAIN_FALLBACK_CALIBRATION_H_
#define KILN_TOOLCHAIN_TRAIN_FALLBACK_CALIBRATION_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/model_builder.h"

namespace kiln {
namespace train {

struct FallbackOptions {
  double target = 0.99;  // required top-k accuracy of accepted items
  int32_t max_k = 5;
  ConfidenceKind confidence = ConfidenceKind::kTopKProb;
};

// One threshold of a coverage/accuracy curve. Thresholds ascend along a
// curve, so coverage never increases.
struct CurvePoint {
  int32_t threshold = 0;      // integer, the runtime's domain
  double threshold_real = 0;  // what to put in DecisionPolicy
  size_t accepted = 0;
  double coverage = 0;  // accepted / items
  double accuracy = 0;  // hits / accepted (1 when nothing is accepted)
};

struct KCalibration {
  int32_t top_k = 1;
  bool target_met = false;
  CurvePoint chosen;
  std::vector<CurvePoint> curve;
};

struct HeadCalibration {
  DecisionPolicy policy;
  int32_t threshold = 0;  // the integer the runtime will compare against
  bool target_met = false;
  double coverage = 0;
  double accuracy = 0;
  std::vector<KCalibration> per_k;  // k = 1..; per_k[chosen_k - 1] chosen
};

// The runtime's confidence of every item for top_k / kind (threshold 0),
// and whether the label is among the top_k candidates. `logits`: n x classes
// int8 values at (scale, zero_point).
bool RuntimeConfidences(const int8_t* logits, size_t n, int32_t classes,
                        float scale, int32_t zero_point, int32_t top_k,
                        ConfidenceKind kind, const std::vector<int32_t>& labels,
                        std::vector<int32_t>* confidence,
                        std::vector<uint8_t>* hit, std::string* error);

// The curve over every distinct confidence (plus one point above the
// largest, accepting nothing when the domain allows it).
std::vector<CurvePoint> CoverageCurve(const std::vector<int32_t>& confidence,
                                      const std::vector<uint8_t>& hit,
                                      ConfidenceKind kind, float scale);

bool CalibrateFallback(const int8_t* logits, size_t n, int32_t classes,
                       float scale, int32_t zero_point,
                       const std::vector<int32_t>& labels,
                       const FallbackOptions& options, HeadCalibration* result,
                       std::string* error);

// A hand-written SVG: coverage and accuracy against threshold, the target
// as a dashed line, the chosen threshold marked (chosen < 0: none).
std::string CoverageSvg(const std::vector<CurvePoint>& curve,
                        const std::string& title, double target,
                        int32_t chosen_threshold, ConfidenceKind kind);
// Written atomically.
bool WriteCoverageSvg(const std::string& path,
                      const std::vector<CurvePoint>& curve,
                      const std::string& title, double target,
                      int32_t chosen_threshold, ConfidenceKind kind,
                      std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_FALLBACK_CALIBRATION_H_
