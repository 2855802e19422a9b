#include "toolchain/onnx/imported_graph.h"

namespace kiln {
namespace onnx_import {

const char* ImportedOpKindName(ImportedOpKind kind) {
  switch (kind) {
    case ImportedOpKind::kConv2D:
      return "Conv2D";
    case ImportedOpKind::kFullyConnected:
      return "FullyConnected";
    case ImportedOpKind::kAdd:
      return "Add";
    case ImportedOpKind::kMaxPool2D:
      return "MaxPool2D";
    case ImportedOpKind::kAveragePool2D:
      return "AveragePool2D";
    case ImportedOpKind::kGlobalAveragePool:
      return "GlobalAveragePool";
    case ImportedOpKind::kConcat:
      return "Concat";
    case ImportedOpKind::kReshape:
      return "Reshape";
    case ImportedOpKind::kSoftmax:
      return "Softmax";
    case ImportedOpKind::kLogistic:
      return "Logistic";
  }
  return "?";
}

}  // namespace onnx_import
}  // namespace kiln
