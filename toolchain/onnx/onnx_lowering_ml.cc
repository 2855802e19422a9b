// ai.onnx.ml operators from scikit-learn (skl2onnx): linear models become a
// fully connected op; Scaler/Normalizer at the graph input become Kiln's
// preprocessing (they run in float before the input is quantized).
#include <math.h>

#include <string>
#include <utility>
#include <vector>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;

namespace {

// A per-feature attribute of 1 or k values, as k values.
std::vector<float> PerFeature(Lowerer& l, const NodeProto& node,
                              const std::string& name, int64_t k,
                              float fallback) {
  std::vector<float> v = AttrFloats(l, node, name, {fallback});
  if (v.size() == 1) return std::vector<float>(k, v[0]);
  if (static_cast<int64_t>(v.size()) != k)
    l.Fail(node, "'" + name + "' has " + std::to_string(v.size()) +
                     " values for " + std::to_string(k) + " features");
  return v;
}

const Tensor& FeatureInput(Lowerer& l, const NodeProto& node) {
  const Tensor& x = l.InputTensor(node, 0);
  if (x.dims.size() != 2)
    l.Fail(node, "needs a [N, K] feature input, got " + DimsString(x.dims));
  return x;
}

void LowerScaler(Lowerer& l, const NodeProto& node) {
  const Tensor& x = FeatureInput(l, node);
  if (!x.chw.empty()) l.RequirePlain(node, x, false);
  const int64_t k = x.dims[1];
  const std::vector<float> offset = PerFeature(l, node, "offset", k, 0.0f);
  const std::vector<float> scale = PerFeature(l, node, "scale", k, 1.0f);
  Tensor out = l.Alias(node, 0);
  // Preprocessing changes the graph input for every reader: only when this
  // Scaler is its only reader.
  if (x.preprocess_stage == 0 && out.sole && x.pending_a.empty() &&
      !l.graph_->preprocess) {
    // (x - offset) * scale == (x - mean) / std with std = 1 / scale.
    PreprocessDef pre;
    pre.layout = Layout::kFlat;
    pre.mean = offset;
    for (float s : scale) {
      if (s == 0.0f || !std::isfinite(1.0f / s))
        l.Fail(node,
               "scale 0 (a constant feature) cannot become Kiln's "
               "preprocessing std");
      pre.std.push_back(1.0f / s);
    }
    l.graph_->preprocess = std::move(pre);
    out.preprocess_stage = 1;
  } else {
    // Elsewhere: a pending a*x + b that the next linear op absorbs.
    if (out.pending_a.empty()) {
      out.pending_a.assign(k, 1.0f);
      out.pending_b.assign(k, 0.0f);
    }
    for (int64_t j = 0; j < k; ++j) {
      out.pending_a[j] *= scale[j];
      out.pending_b[j] = (out.pending_b[j] - offset[j]) * scale[j];
    }
    out.preprocess_stage = -1;
  }
  l.SetTensor(node.output(0), std::move(out));
}

void LowerNormalizer(Lowerer& l, const NodeProto& node) {
  const Tensor& x = FeatureInput(l, node);
  const std::string norm = AttrString(l, node, "norm", "MAX");
  FeatureNorm kind = FeatureNorm::kMax;
  if (norm == "L1")
    kind = FeatureNorm::kL1;
  else if (norm == "L2")
    kind = FeatureNorm::kL2;
  else if (norm != "MAX")
    l.Fail(node, "norm '" + norm + "' is not supported");
  if ((x.preprocess_stage != 0 && x.preprocess_stage != 1) ||
      !x.pending_a.empty())
    l.Fail(node,
           "a Normalizer is supported only at the graph input "
           "(optionally after a Scaler), where Kiln's preprocessing "
           "runs it; here it follows other operators (for example "
           "a one-vs-rest classifier's probability normalization)");
  if (!l.Alias(node, 0).sole)
    l.Fail(node,
           "the graph input is also read elsewhere; Kiln can run a "
           "Normalizer only as preprocessing of the whole input");
  const int64_t k = x.dims[1];
  if (!l.graph_->preprocess) {
    PreprocessDef pre;
    pre.layout = Layout::kFlat;
    pre.mean.assign(k, 0.0f);
    pre.std.assign(k, 1.0f);
    l.graph_->preprocess = std::move(pre);
  }
  l.graph_->preprocess->feature_norm = kind;
  Tensor out = l.Alias(node, 0);
  out.preprocess_stage = 2;
  l.SetTensor(node.output(0), std::move(out));
}

// Softmax / Logistic after the linear op, per post_transform.
Tensor PostTransform(Lowerer& l, const NodeProto& node, const Tensor& logits,
                     const std::string& name) {
  const std::string post = AttrString(l, node, "post_transform", "NONE");
  Tensor out = logits;
  out.logits = logits.value;
  if (post == "NONE") return out;
  ImportedOpKind kind;
  if (post == "SOFTMAX")
    kind = ImportedOpKind::kSoftmax;
  else if (post == "LOGISTIC")
    kind = ImportedOpKind::kLogistic;
  else
    l.Fail(node, "post_transform '" + post + "' is not supported");
  ImportedOp op = l.NewOp(node, kind, {logits.value});
  op.name += "/" + post;
  out.value =
      l.AddValue(node, name, out.dims, l.graph_->values[logits.value].shape);
  op.output = out.value;
  l.AddOp(std::move(op));
  return out;
}

void LowerLinearClassifier(Lowerer& l, const NodeProto& node) {
  const Tensor x = FeatureInput(l, node);
  const int64_t k = x.dims[1];
  std::vector<float> coef = AttrFloats(l, node, "coefficients", {});
  std::vector<float> intercepts = AttrFloats(l, node, "intercepts", {});
  std::vector<std::string> labels;
  const std::vector<int64_t> int_labels =
      AttrInts(l, node, "classlabels_ints", {});
  const std::vector<std::string> string_labels =
      AttrStrings(l, node, "classlabels_strings");
  if (!int_labels.empty() && !string_labels.empty())
    l.Fail(node, "has both integer and string class labels");
  for (int64_t v : int_labels) labels.push_back(std::to_string(v));
  if (labels.empty()) labels = string_labels;
  if (labels.empty()) l.Fail(node, "has no class labels");
  if (coef.empty() || coef.size() % k != 0)
    l.Fail(node, std::to_string(coef.size()) + " coefficients do not fit " +
                     std::to_string(k) + " features");
  const int64_t rows = static_cast<int64_t>(coef.size()) / k;
  const int64_t classes = static_cast<int64_t>(labels.size());
  if (!intercepts.empty() && static_cast<int64_t>(intercepts.size()) != rows)
    l.Fail(node, "intercepts do not match the coefficient rows");
  if (intercepts.empty()) intercepts.assign(rows, 0.0f);
  if (rows == 1 && classes == 2) {
    // Binary: one score z, class logits [-z, z] (so that the logistic of
    // each is ONNX's [1 - p, p]).
    std::vector<float> both(2 * k);
    for (int64_t j = 0; j < k; ++j) {
      both[j] = -coef[j];
      both[k + j] = coef[j];
    }
    coef = std::move(both);
    intercepts = {-intercepts[0], intercepts[0]};
  } else if (rows != classes) {
    l.Fail(node, std::to_string(rows) + " coefficient rows for " +
                     std::to_string(classes) + " classes");
  }
  const int64_t multi_class = AttrInt(l, node, "multi_class", 0);
  if (multi_class != 0 && multi_class != 1)
    l.Fail(node, "multi_class must be 0 or 1");
  const std::string scores_name =
      node.output_size() > 1 && !node.output(1).empty()
          ? node.output(1)
          : node.output(0) + "/scores";
  const bool transformed =
      AttrString(l, node, "post_transform", "NONE") != "NONE";
  Tensor logits = l.EmitFullyConnected(
      node, x, transformed ? scores_name + "/logits" : scores_name, classes,
      std::move(coef), std::move(intercepts), {});
  Tensor scores = PostTransform(l, node, logits, scores_name);
  scores.labels = labels;
  Tensor label = scores;
  label.is_label = true;
  if (node.output_size() > 1) l.SetTensor(node.output(1), scores);
  l.SetTensor(node.output(0), std::move(label));
}

void LowerLinearRegressor(Lowerer& l, const NodeProto& node) {
  const Tensor x = FeatureInput(l, node);
  const int64_t k = x.dims[1];
  std::vector<float> coef = AttrFloats(l, node, "coefficients", {});
  const int64_t targets = AttrInt(l, node, "targets", 1);
  if (targets < 1 || static_cast<int64_t>(coef.size()) != targets * k)
    l.Fail(node, std::to_string(coef.size()) + " coefficients do not fit " +
                     std::to_string(targets) + " targets x " +
                     std::to_string(k) + " features");
  std::vector<float> intercepts = AttrFloats(l, node, "intercepts", {});
  if (!intercepts.empty() && static_cast<int64_t>(intercepts.size()) != targets)
    l.Fail(node, "intercepts do not match the targets");
  if (AttrString(l, node, "post_transform", "NONE") != "NONE")
    l.Fail(node, "post_transform must be NONE");
  l.SetTensor(node.output(0),
              l.EmitFullyConnected(node, x, node.output(0), targets,
                                   std::move(coef), std::move(intercepts), {}));
}

}  // namespace

void Lowerer::LowerMlNode(const NodeProto& node) {
  const std::string& type = node.op_type();
  if (node.input_size() < 1 || node.input(0).empty() ||
      node.output_size() < 1 || node.output(0).empty())
    Fail(node, "needs an input and an output");
  if (type == "LinearClassifier") {
    LowerLinearClassifier(*this, node);
  } else if (type == "LinearRegressor") {
    LowerLinearRegressor(*this, node);
  } else if (type == "Scaler") {
    LowerScaler(*this, node);
  } else if (type == "Normalizer") {
    LowerNormalizer(*this, node);
  } else if (type == "ZipMap") {
    Fail(node,
         "ZipMap (probabilities as a list of maps) is not supported; "
         "convert with skl2onnx options {'zipmap': False} so that the "
         "probabilities stay a tensor");
  } else {
    Fail(node, "ai.onnx.ml operator not supported by kiln import");
  }
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
