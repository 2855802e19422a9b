// The ONNX importer's front door: bytes or a file in, ImportedGraph out.
//
// Parses the model, rejects what Kiln cannot read safely (external data,
// oversized files, unknown dims, inconsistent initializers, nodes reading
// names not defined before them), runs the ONNX checker, lowers the graph
// (onnx_lowering.h, which computes every shape itself), then runs ONNX's
// strict shape inference on the accepted model as a final consistency
// check (onnx_file.h).
// Neither ONNX nor protobuf types appear here, so callers (the `kiln import`
// command, the fuzzer) need not include the ONNX headers.
#ifndef KILN_TOOLCHAIN_ONNX_ONNX_IMPORT_H_
#define KILN_TOOLCHAIN_ONNX_ONNX_IMPORT_H_

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "toolchain/onnx/imported_graph.h"

namespace kiln {
namespace onnx_import {

// Files (and byte buffers) above this size are refused before parsing.
constexpr size_t kMaxOnnxBytes = size_t{1} << 30;

// On failure returns false and sets *error ("node 'conv1' (Conv): ...",
// "onnx checker: ...", ...); *graph is then unspecified. Never throws.
bool ImportOnnxFile(const std::string& path, ImportedGraph* graph,
                    std::string* error);
bool ImportOnnxBytes(const uint8_t* data, size_t size, ImportedGraph* graph,
                     std::string* error);

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_ONNX_IMPORT_H_
