// Evaluating a compiled .kiln model through the real runtime: accuracy,
// confusion, fallback coverage, float-vs-int8 agreement and latency, and a
// Markdown report.
#ifndef KILN_TOOLCHAIN_TRAIN_EVALUATE_H_
#define KILN_TOOLCHAIN_TRAIN_EVALUATE_H_

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "toolchain/data/dataset.h"
#include "toolchain/train/float_model.h"

namespace kiln {
namespace train {

struct HeadEval {
  std::string name;
  int32_t classes = 0;
  std::vector<std::string> labels;  // class names (model's, else numbers)
  int32_t top_k = 1;
  ConfidenceKind confidence = ConfidenceKind::kTop1Prob;
  int32_t threshold = 0;
  float threshold_real = 0.0f;

  size_t items = 0;
  // Label among the k largest int8 logits (ties: lower class id first, as
  // the runtime ranks them).
  double top1 = 0, top2 = 0, top5 = 0;
  // topk[k - 1]: label among the k largest, k = 1 .. min(5, classes).
  std::vector<double> topk;
  // confusion[true][predicted top-1].
  std::vector<std::vector<int64_t>> confusion;
  // Accepted: the runtime's fallback flag is 0.
  size_t accepted = 0;
  double coverage = 0;
  double accepted_top1 = 0, accepted_topk = 0;  // 0 when none accepted
  double fallback_top1 = 0, fallback_topk = 0;  // 0 when none fell back
  // Fraction of items whose float top-1 (FloatInterpreter) equals the int8
  // top-1; -1 when no float model was given.
  double float_agreement = -1;
  // Links written into the report (relative paths), may be empty.
  std::vector<std::string> plots;
};

struct EvalResult {
  std::string model_name;
  std::string split = "test";
  size_t items = 0;
  std::vector<HeadEval> heads;
  size_t batch = 0;
  int32_t repeats = 0;
  // Median over every batched runtime call (`repeats` passes over all
  // items in calls of up to `batch` items, after one untimed warm-up pass)
  // of the call's time / its items, and the median time of single-item
  // calls. Medians, not means, so that a call that lost the CPU to another
  // process does not count.
  double batched_us_per_item = 0;
  double batch1_us = 0;
  bool latency_measured = false;
};

struct EvalOptions {
  size_t batch = 64;
  int32_t repeats = 5;
  // Items timed one at a time (per repeat), at most.
  size_t batch1_items = 100;
  // For float-vs-int8 agreement; heads matched by name. May be null.
  const FloatModel* float_model = nullptr;
  // False: skip the timing (EvalResult::latency_measured stays false), e.g.
  // to time several models interleaved with MeasureLatency instead.
  bool measure_latency = true;
  // Called now and then with (done, total) in item-invocations: the
  // accuracy pass, then the timed passes. May be empty.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// The item-invocations EvaluateItems reports through EvalOptions::progress
// for `count` items (accuracy pass plus timing), and MeasureLatency for
// `models` models.
uint64_t EvalWork(size_t count, const EvalOptions& options);
uint64_t LatencyWork(size_t count, size_t models, const EvalOptions& options);

// `items`: count raw items of the graph input (uint8 or float32, the model's
// input shape each). labels[h][i]: the class of item i for head h (one
// vector per head of the model).
bool EvaluateItems(const std::vector<uint8_t>& kiln_bytes, const void* items,
                   size_t count,
                   const std::vector<std::vector<int32_t>>& labels,
                   const EvalOptions& options, EvalResult* result,
                   std::string* error);

// The items of `dataset` whose split is `which` (splits: one per sample),
// with the dataset's labels for every head.
bool EvaluateSplit(const std::vector<uint8_t>& kiln_bytes,
                   const data::Dataset& dataset,
                   const std::vector<data::Split>& splits, data::Split which,
                   const EvalOptions& options, EvalResult* result,
                   std::string* error);

struct Latency {
  double batched_us_per_item = 0;  // as in EvalResult
  double batch1_us = 0;
};

// Times several models on the same items, interleaved so that machine
// noise hits all of them alike: every batched call of one model is followed
// by the same call of the others (A B, then B A for the next call, ...),
// and the single-item calls alternate the same way, item by item. Batch,
// repeats and batch1_items from `options`; progress counts LatencyWork.
// Every model must take `items` (same input size).
bool MeasureLatency(const std::vector<const std::vector<uint8_t>*>& models,
                    const void* items, size_t count, const EvalOptions& options,
                    std::vector<Latency>* latencies, std::string* error);

// The whole result as JSON: every field, the full confusion matrices, null
// for an unavailable float agreement or latency.
nlohmann::json EvalResultJson(const EvalResult& result);

// Regressions of B against A (heads matched by name).
struct RegressionLimits {
  double max_accuracy_drop = 0.005;    // fraction (0.005 = 0.5 points)
  double max_latency_increase = 0.10;  // relative (0.10 = 10% slower)
};

struct Regression {
  std::string head;    // empty for latency
  std::string metric;  // "top1", "accepted_topk", "coverage",
                       // "batched_us_per_item", "batch1_us"
  double a = 0, b = 0;
  std::string message;  // one line, e.g. "head digits: top-1 fell ..."
};

// B's top-1, accepted top-k accuracy and coverage lower than A's by more
// than max_accuracy_drop, and B's batched or batch-1 latency higher than
// A's by more than max_latency_increase (when both were measured). Heads of
// A that B lacks are not compared (the caller checks the heads match).
std::vector<Regression> FindRegressions(const EvalResult& a,
                                        const EvalResult& b,
                                        const RegressionLimits& limits);

std::string EvalReportMarkdown(const EvalResult& result);
// Writes EvalReportMarkdown atomically.
bool WriteEvalReport(const std::string& path, const EvalResult& result,
                     std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_EVALUATE_H_
