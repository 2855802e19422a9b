// How far an imported INT8 model is from its float graph, measured on items
// through the real runtime (train::KilnRunner) and the float reference
// (GraphInterpreter): per output, the largest difference in quantization
// steps of that output, the cosine similarity, and for classifiers the top-1
// agreement and the runtime's fallback rate.
#ifndef KILN_TOOLCHAIN_ONNX_IMPORT_EVALUATION_H_
#define KILN_TOOLCHAIN_ONNX_IMPORT_EVALUATION_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/onnx/import_compile.h"
#include "toolchain/onnx/import_inputs.h"

namespace kiln {
namespace onnx_import {

struct OutputEvaluation {
  std::string name;
  size_t items = 0;
  float scale = 0.0f;            // of the int8 output
  double max_abs_error = 0.0;    // |dequantized int8 - float|, largest
  double max_error_steps = 0.0;  // max_abs_error / scale
  double mean_abs_error = 0.0;
  double cosine = 1.0;  // over all items' values together
  // Classifiers (outputs with logits): argmax of the int8 logits against
  // argmax of the float logits. -1 when not a classifier.
  double top1_agreement = -1.0;
  size_t top1_agreeing = 0;
  // Heads: share of items the runtime flags for fallback.
  double fallback_rate = -1.0;
  // Items with labels: top-1 accuracy of the int8 and float models.
  double int8_accuracy = -1.0;
  double float_accuracy = -1.0;
  // Against another runtime's outputs on the same items (reference given):
  // the largest |int8 - reference| in steps of this output's scale, and the
  // share of values within one step. -1 without a reference.
  double reference_max_steps = -1.0;
  double reference_within_one_step = -1.0;
};

struct ImportEvaluation {
  std::vector<OutputEvaluation> outputs;  // per ImportedOutput
  double runtime_us_per_item = 0.0;       // median over batched calls
};

// Runs `items` (graph input values, ImportItems) through the compiled
// `model` and through the float graph `g`; `layout` is what
// CompileImportedGraph reported for `model`.
// `reference` (may be null): per ImportedOutput, another runtime's outputs
// on the same items (items x the output's elements, row-major), or empty.
bool EvaluateImport(const ImportedGraph& g, const std::vector<uint8_t>& model,
                    const ImportCompileLayout& layout, const ImportItems& items,
                    ImportEvaluation* out, std::string* error,
                    const std::vector<std::vector<float>>* reference = nullptr);

// The float graph's top-1 class of every item for output `o` (its logits):
// the pseudo-labels the fallback is calibrated against when the items have
// none.
bool FloatTop1(const ImportedGraph& g, size_t o, const ImportItems& items,
               std::vector<int32_t>* top1, std::string* error);

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_IMPORT_EVALUATION_H_
