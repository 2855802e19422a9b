// Activation ranges of an ImportedGraph from calibration items: the float
// interpreter runs every item and a train::RangeObserver per value reduces
// what the value took (minmax, percentile or kl, train/range_calibration.h).
// The ranges feed CompileImportedGraph (import_compile.h).
#ifndef KILN_TOOLCHAIN_ONNX_IMPORT_CALIBRATION_H_
#define KILN_TOOLCHAIN_ONNX_IMPORT_CALIBRATION_H_

#include <stddef.h>

#include <functional>
#include <string>
#include <vector>

#include "toolchain/onnx/imported_graph.h"
#include "toolchain/train/float_model.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace onnx_import {

// Called after each item of each pass: pass 1 or 2 (kl needs two), items
// done in this pass, items per pass.
using CalibrationProgress =
    std::function<void(int pass, size_t done, size_t total)>;

// `items`: `count` items, each the graph input's element count of floats,
// already preprocessed, NHWC (what GraphInterpreter::Run takes). On
// success *value_ranges has one Range per graph value (index = value index),
// the input included; a value no op computes gets {0, 0}. False and *error
// on an invalid graph, no items, or a non-finite value (naming the value).
// params.samples is not applied here: the caller picks the items.
bool CalibrateImportedGraph(const ImportedGraph& g, const float* items,
                            size_t count,
                            const train::CalibrationParams& params,
                            std::vector<train::Range>* value_ranges,
                            std::string* error,
                            const CalibrationProgress& progress = nullptr);

}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_IMPORT_CALIBRATION_H_
