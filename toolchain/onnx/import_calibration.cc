#include "toolchain/onnx/import_calibration.h"

#include <exception>

#include "toolchain/onnx/graph_interpreter.h"
#include "toolchain/train/range_calibration.h"

namespace kiln {
namespace onnx_import {

namespace {

bool Fail(std::string* error, const std::string& message) {
  if (error) *error = message;
  return false;
}

// One pass over every item: each computed value goes to its observer.
void ObservePass(const GraphInterpreter& interpreter, const float* items,
                 size_t count, int pass,
                 std::vector<train::RangeObserver>* observers,
                 const CalibrationProgress& progress) {
  std::vector<std::vector<float>> values;
  for (size_t i = 0; i < count; ++i) {
    interpreter.Run(items + i * interpreter.input_size(), &values);
    for (size_t v = 0; v < values.size(); ++v) {
      if (values[v].empty()) continue;
      train::RangeObserver& obs = (*observers)[v];
      if (pass == 1) {
        obs.Observe(values[v].data(), values[v].size());
      } else if (obs.NeedsSecondPass()) {
        obs.ObserveAgain(values[v].data(), values[v].size());
      }
    }
    if (progress) progress(pass, i + 1, count);
  }
}

}  // namespace

bool CalibrateImportedGraph(const ImportedGraph& g, const float* items,
                            size_t count,
                            const train::CalibrationParams& params,
                            std::vector<train::Range>* value_ranges,
                            std::string* error,
                            const CalibrationProgress& progress) {
  try {
    GraphInterpreter interpreter;
    if (!interpreter.Init(g, error)) return false;
    if (count == 0 || items == nullptr) {
      return Fail(error, "calibration needs at least one item");
    }
    std::vector<train::RangeObserver> observers(g.values.size(),
                                                train::RangeObserver(params));
    ObservePass(interpreter, items, count, 1, &observers, progress);
    bool second_pass = false;
    for (const train::RangeObserver& obs : observers) {
      second_pass = second_pass || obs.NeedsSecondPass();
    }
    if (second_pass) {
      ObservePass(interpreter, items, count, 2, &observers, progress);
    }
    std::vector<train::Range> ranges(g.values.size());
    for (size_t v = 0; v < observers.size(); ++v) {
      std::string why;
      if (!observers[v].Reduce(&ranges[v], &why)) {
        return Fail(error,
                    "calibration of value '" + g.values[v].name + "': " + why);
      }
    }
    *value_ranges = std::move(ranges);
    return true;
  } catch (const std::exception& e) {
    // std::bad_alloc from a percentile observer keeping every value, say.
    return Fail(error, std::string("calibration failed: ") + e.what());
  }
}

}  // namespace onnx_import
}  // namespace kiln
