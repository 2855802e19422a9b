// A trained float network as the quantizer sees it, with no LibTorch in
// sight: layers in execution order, weights already in Kiln's layouts (conv
// OHWI, fully connected [N, K]) with BatchNorm folded in, and the range of
// every layer's output observed on calibration data. The trainer
// (LibTorch) produces it; the quantizer/compiler (ModelBuilder) consumes it.
#ifndef KILN_TOOLCHAIN_TRAIN_FLOAT_MODEL_H_
#define KILN_TOOLCHAIN_TRAIN_FLOAT_MODEL_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/model_builder.h"

namespace kiln {
namespace train {

enum class LayerKind {
  kConv2D,          // groups from conv.groups (depthwise: groups == in_c)
  kFullyConnected,  // input flattened (NHWC order) to K elements
  kMaxPool2D,
  kAveragePool2D,
  kGlobalAveragePool,
  kAdd,  // elementwise sum of `input` and `input2` (same shape)
};

// Observed range of a tensor on calibration data, already reduced by the
// calibration method (min/max, percentile, KL).
struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

struct FloatLayer {
  LayerKind kind = LayerKind::kConv2D;
  std::string name;
  // Index of the layer whose output feeds this one; -1 = the model input.
  int32_t input = -1;
  // kAdd only: the second summand, an earlier layer or -1 (the input).
  int32_t input2 = -1;
  std::vector<float> weights;  // OHWI or [N, K]
  std::vector<int32_t> weight_shape;
  std::vector<float> bias;  // one per output channel
  Conv2DOptions conv;
  Pool2DOptions pool;
  Activation activation = Activation::kNone;
  Range output;  // after the activation
};

struct FloatHead {
  std::string name;
  int32_t layer = -1;  // the layer producing the logits: [classes]
  std::vector<std::string> labels;
  DecisionPolicy policy;  // set by fallback calibration (default: top-1)
};

struct FloatModel {
  // Per-item input: raw uint8 pixels HWC (images) or float features (D).
  std::vector<int32_t> input_shape;
  bool uint8_input = true;
  // The network sees x = raw * input_scale_real (+ nothing: pixels / 255
  // for images, so mean/std normalization, if any, is folded into layer 0).
  float input_scale_real = 1.0f / 255.0f;
  Range input;  // range of x on calibration data (float inputs)
  std::vector<FloatLayer> layers;
  std::vector<FloatHead> heads;
};

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_FLOAT_MODEL_H_
