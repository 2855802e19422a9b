// A trained Kiln float network (train::FloatModel) written as an ONNX model
// for other tools: Netron to look at it, ONNX Runtime to run it.
//
//   kiln::OnnxExportOptions options;
//   options.model_name = "digits_cnn";
//   std::vector<uint8_t> bytes;
//   std::string error;
//   if (!kiln::ExportFloatModelToOnnx(model, options, &bytes, &error)) ...
//   kiln::WriteFileAtomic("model.onnx", bytes, &error);
//
// The graph (opset 13, IR version 7, producer "kiln"):
//   input "input", FLOAT:
//     image models (per-item shape [H, W, C]): [batch, C, H, W], NCHW;
//     feature models ([D]): [batch, D]; any other per-item shape keeps its
//     dims after the batch.
//   The network takes REAL values. For uint8 models that is
//   x = pixels * input_scale_real (transposed HWC -> CHW for images); the
//   mean/std normalization, if any, is already folded into the first layer,
//   exactly as train::FloatModel holds it. Float feature models take the
//   features as they are.
//   Conv (weights OHWI -> OIHW, pads, strides, dilations, group), Relu or
//   Clip(0, 6), MaxPool / AveragePool (count_include_pad = 0: Kiln excludes
//   padding from the count), GlobalAveragePool + Flatten, Flatten before a
//   fully connected layer on a spatial input (its weight columns permuted
//   from Kiln's HWC order to ONNX's CHW order), Gemm (transB = 1).
//   outputs: one FLOAT [batch, classes] per head, named after the head: the
//   float logits.
//   metadata_props: "kiln.model_name", "kiln.input" (the input convention
//   in words), "kiln.input_scale_real", "kiln.heads" (JSON array of the
//   heads: name, labels, decision policy) and, per head,
//   "kiln.head.<name>.labels" (JSON array) and "kiln.head.<name>.policy"
//   (JSON object: top_k, confidence, threshold), plus options.metadata.
//
// Before returning, the model is run through the ONNX checker and through
// shape inference (which must agree with the declared output shapes).
//
// This header includes no ONNX or protobuf header, so callers need not
// link or see them.
#ifndef KILN_TOOLCHAIN_ONNX_ONNX_EXPORT_H_
#define KILN_TOOLCHAIN_ONNX_ONNX_EXPORT_H_

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "toolchain/train/float_model.h"

namespace kiln {

struct OnnxExportOptions {
  // The graph's name and "kiln.model_name".
  std::string model_name = "model";
  // ModelProto.producer_version (e.g. the toolchain commit); empty = none.
  std::string producer_version;
  // ModelProto.model_version.
  int64_t model_version = 1;
  // Extra metadata_props (e.g. "kiln.train_params"); a key that collides
  // with one the exporter writes is an error.
  std::map<std::string, std::string> metadata;
};

// The ONNX serialization of `model`. False and *error (never an exception)
// when the model is inconsistent (train::InferLayerShapes), has non-finite
// weights, a pool padding Kiln would refuse, heads with clashing names, or
// when the ONNX checker or shape inference rejects the result.
bool ExportFloatModelToOnnx(const train::FloatModel& model,
                            const OnnxExportOptions& options,
                            std::vector<uint8_t>* bytes, std::string* error);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_ONNX_EXPORT_H_
