#include "toolchain/model_def.h"

namespace kiln {
namespace {

// Looks `value` up in a dense table of names; "?" for anything outside it
// (defs may hold values the schema does not know).
template <size_t N>
const char* NameOf(const char* const (&names)[N], int value) {
  return value >= 0 && static_cast<size_t>(value) < N ? names[value] : "?";
}

}  // namespace

const char* OpKindName(OpKind kind) {
  static const char* const kNames[] = {
      "NONE",          "Conv2D",    "FullyConnected",    "Add",
      "AveragePool2D", "MaxPool2D", "GlobalAveragePool", "Concat",
      "Reshape",       "Softmax",   "Logistic",          "Quantize",
      "Dequantize"};
  return NameOf(kNames, static_cast<int>(kind));
}

const char* DTypeName(DType type) {
  static const char* const kNames[] = {"INT8", "UINT8", "INT32", "FLOAT32"};
  return NameOf(kNames, static_cast<int>(type));
}

const char* ActivationName(Activation activation) {
  static const char* const kNames[] = {"NONE", "RELU", "RELU6"};
  return NameOf(kNames, static_cast<int>(activation));
}

const char* ConfidenceKindName(ConfidenceKind kind) {
  static const char* const kNames[] = {"TOP1_PROB", "TOPK_PROB", "MARGIN"};
  return NameOf(kNames, static_cast<int>(kind));
}

const char* LayoutName(Layout layout) {
  static const char* const kNames[] = {"NHWC", "NCHW", "FLAT"};
  return NameOf(kNames, static_cast<int>(layout));
}

const char* ChannelOrderName(ChannelOrder order) {
  static const char* const kNames[] = {"NONE", "RGB", "BGR", "GRAY"};
  return NameOf(kNames, static_cast<int>(order));
}

const char* ResizeModeName(ResizeMode mode) {
  static const char* const kNames[] = {"NONE", "BILINEAR", "NEAREST"};
  return NameOf(kNames, static_cast<int>(mode));
}

const char* FeatureNormName(FeatureNorm norm) {
  static const char* const kNames[] = {"NONE", "L1", "L2", "MAX_ABS"};
  return NameOf(kNames, static_cast<int>(norm));
}

size_t DTypeSize(DType type) {
  switch (type) {
    case DType::kInt8:
    case DType::kUInt8:
      return 1;
    case DType::kInt32:
    case DType::kFloat32:
      return 4;
  }
  return 0;
}

}  // namespace kiln
