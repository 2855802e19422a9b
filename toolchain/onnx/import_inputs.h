// The items `kiln import` calibrates and evaluates on, read from a file or a
// folder and turned into exactly what the imported graph's input holds
// (ImportedGraph::input: preprocessed floats, NHWC for images).
//
//   .npy   [N, ...] float/int array. Holds what the ONNX model takes:
//          image models' [N, C, H, W] is transposed to Kiln's NHWC (an
//          array that is already [N, H, W, C] is taken as is when the two
//          cannot be confused). No image preprocessing is applied: the
//          values are the network's real input. Feature models get the
//          graph's feature preprocessing (Scaler/Normalizer), through the
//          runtime's own kiln_preprocess_features_spec.
//   .csv   one item per row, every field a number (a first row that is not
//          all numbers is a header and skipped); feature preprocessing as
//          for .npy.
//   *idx3-ubyte[.gz]  IDX gray images (MNIST, Fashion-MNIST), preprocessed
//          as image files are.
//   DIR    image files (.png .jpg .jpeg .bmp .pgm .ppm), searched
//          recursively in sorted path order, decoded with stb_image and
//          preprocessed by the runtime's kiln_preprocess_image_spec with the
//          model's spec (which must be an image spec). Images in
//          sub-folders get the sub-folder's index (sorted) as their label.
//
// The runtime does the preprocessing, so calibration sees the same bytes a
// deployed model is fed.
#ifndef KILN_TOOLCHAIN_ONNX_IMPORT_INPUTS_H_
#define KILN_TOOLCHAIN_ONNX_IMPORT_INPUTS_H_

#include <stddef.h>
#include <stdint.h>

#include <optional>
#include <string>
#include <vector>

#include "toolchain/model_def.h"
#include "toolchain/onnx/imported_graph.h"

namespace kiln {
namespace onnx_import {

struct ImportItems {
  std::vector<float> values;  // count items of the graph input, row-major
  size_t count = 0;
  size_t item_elements = 0;
  std::vector<std::string> origins;  // per item, for messages
  // Per item class id (image folders with class sub-folders); else empty.
  std::vector<int32_t> labels;
  std::vector<std::string> label_names;  // the sub-folders, by id
};

// Reads at most `limit` items (0: all) starting at item `skip` from `path`.
// `preprocess`: the spec the model will carry (needed for image folders and
// applied to feature rows); may be unset. False and *error (naming the file,
// row or image) on anything unreadable or not matching the graph's input.
bool LoadImportItems(const std::string& path, const ImportedGraph& g,
                     const std::optional<PreprocessDef>& preprocess,
                     size_t skip, size_t limit, ImportItems* out,
                     std::string* error);

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_IMPORT_INPUTS_H_
