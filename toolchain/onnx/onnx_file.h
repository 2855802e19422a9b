// Loading an ONNX model for lowering: parse, validate, check, infer shapes.
// ImportOnnxBytes/ImportOnnxFile (onnx_import.h) are defined here too.
//
// The model is untrusted input. Everything the lowering later relies on is
// established here: one graph input with known per-item dims, initializers
// whose data matches their dims and dtype, no external data, and dims whose
// products fit in int64 (so that no later size computation overflows).
#ifndef KILN_TOOLCHAIN_ONNX_ONNX_FILE_H_
#define KILN_TOOLCHAIN_ONNX_ONNX_FILE_H_

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "onnx/onnx_pb.h"

namespace kiln {
namespace onnx_import {

// Parses `size` bytes into *model and validates it (ValidateOnnxModel).
bool ParseOnnxModel(const uint8_t* data, size_t size, onnx::ModelProto* model,
                    std::string* error);
bool ReadOnnxModelFile(const std::string& path, onnx::ModelProto* model,
                       std::string* error);

// Own structural checks (external data, initializer sizes and dtypes, dims,
// the single graph input) and the ONNX checker.
bool ValidateOnnxModel(onnx::ModelProto* model, std::string* error);

// ONNX shape inference, strict, with data propagation; adds the inferred
// value_info. Only for models the lowering accepted (ImportOnnxBytes runs
// it last): libonnx's inference is not safe on arbitrary graphs.
bool InferOnnxShapes(onnx::ModelProto* model, std::string* error);

// Elements of a tensor with these dims, or -1 when a dim is negative or the
// product overflows int64 / exceeds `limit`.
int64_t CheckedElementCount(
    const google::protobuf::RepeatedField<int64_t>& dims, int64_t limit);

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_ONNX_FILE_H_
