// Evaluating a compiled .kiln model through the real runtime: accuracy,
// confusion, fallback coverage, float-vs-int8 agreement and latency, and a
// Markdown report.
#ifndef KILN_TOOLCHAIN_TRAIN_EVALUATE_H_
#define KILN_TOOLCHAIN_TRAIN_EVALUATE_H_

#include <stddef.h>
#include <stdint.h>

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
  // Median over the repeats of (time of one pass over all items in
  // batches of `batch`) / items, and median time of single-item invokes.
  double batched_us_per_item = 0;
  double batch1_us = 0;
};

struct EvalOptions {
  size_t batch = 64;
  int32_t repeats = 5;
  // Items timed one at a time (per repeat), at most.
  size_t batch1_items = 100;
  // For float-vs-int8 agreement; heads matched by name. May be null.
  const FloatModel* float_model = nullptr;
};

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

std::string EvalReportMarkdown(const EvalResult& result);
// Writes EvalReportMarkdown atomically.
bool WriteEvalReport(const std::string& path, const EvalResult& result,
                     std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_EVALUATE_H_
