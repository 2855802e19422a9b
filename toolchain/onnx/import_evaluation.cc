#include "toolchain/onnx/import_evaluation.h"

#include <math.h>

#include <algorithm>
#include <chrono>

#include "toolchain/onnx/graph_interpreter.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace onnx_import {
namespace {

// Items per runtime call: large enough to time the batched path, small
// enough that the arena stays modest for ResNet-sized models.
constexpr size_t kBatch = 16;

size_t ArgMax(const float* v, size_t n) {
  return size_t(std::max_element(v, v + n) - v);
}

template <typename T>
size_t ArgMaxInt(const T* v, size_t n) {
  return size_t(std::max_element(v, v + n) - v);
}

struct Accumulator {
  double dot = 0, ff = 0, qq = 0, abs_sum = 0, max_abs = 0;
  size_t values = 0, agree = 0, items = 0, fallbacks = 0;
  size_t int8_hits = 0, float_hits = 0;
  double ref_max_steps = 0;
  size_t ref_values = 0, ref_within = 0;
};

}  // namespace

bool FloatTop1(const ImportedGraph& g, size_t o, const ImportItems& items,
               std::vector<int32_t>* top1, std::string* error) {
  if (o >= g.outputs.size() || g.outputs[o].logits < 0) {
    *error = "output " + std::to_string(o) + " is not a classifier";
    return false;
  }
  GraphInterpreter interp;
  if (!interp.Init(g, error)) return false;
  top1->assign(items.count, 0);
  std::vector<std::vector<float>> values;
  for (size_t i = 0; i < items.count; ++i) {
    interp.Run(items.values.data() + i * items.item_elements, &values);
    const std::vector<float>& logits = values[size_t(g.outputs[o].logits)];
    (*top1)[i] = int32_t(ArgMax(logits.data(), logits.size()));
  }
  return true;
}

bool EvaluateImport(const ImportedGraph& g, const std::vector<uint8_t>& model,
                    const ImportCompileLayout& layout, const ImportItems& items,
                    ImportEvaluation* out, std::string* error,
                    const std::vector<std::vector<float>>* reference) {
  *out = ImportEvaluation();
  if (reference != nullptr && reference->size() != g.outputs.size()) {
    *error = "reference outputs: one list per graph output expected";
    return false;
  }
  if (layout.input_type != DType::kFloat32) {
    *error = "evaluation needs a FLOAT32 model input";
    return false;
  }
  GraphInterpreter interp;
  if (!interp.Init(g, error)) return false;
  if (interp.input_size() != items.item_elements) {
    *error = "items of " + std::to_string(items.item_elements) +
             " values, the graph takes " + std::to_string(interp.input_size());
    return false;
  }
  train::KilnRunner runner;
  if (!runner.Load(model, kBatch, error)) return false;
  const int32_t num_heads = runner.num_heads();

  std::vector<Accumulator> acc(g.outputs.size());
  std::vector<double> call_us;
  std::vector<std::vector<uint8_t>> outputs;
  std::vector<kiln_decision> decisions;
  std::vector<std::vector<float>> values;
  for (size_t first = 0; first < items.count; first += kBatch) {
    const size_t n = std::min(kBatch, items.count - first);
    const float* batch = items.values.data() + first * items.item_elements;
    const auto start = std::chrono::steady_clock::now();
    if (!runner.Run(batch, n, &outputs, &decisions, error)) return false;
    const auto stop = std::chrono::steady_clock::now();
    call_us.push_back(
        std::chrono::duration<double, std::micro>(stop - start).count() /
        double(n));
    for (size_t i = 0; i < n; ++i) {
      interp.Run(batch + i * items.item_elements, &values);
      for (size_t o = 0; o < g.outputs.size(); ++o) {
        const ImportedOutput& io = g.outputs[o];
        const ImportedOutputLayout& lo = layout.outputs[o];
        Accumulator& a = acc[o];
        ++a.items;
        if (lo.int8_output >= 0) {
          const kiln_tensor_info info = runner.output_info(lo.int8_output);
          const size_t count = info.item_bytes;
          const int8_t* q = reinterpret_cast<const int8_t*>(
                                outputs[size_t(lo.int8_output)].data()) +
                            i * count;
          const std::vector<float>& f = values[size_t(io.value)];
          const std::vector<float>* ref =
              reference != nullptr && !(*reference)[o].empty()
                  ? &(*reference)[o]
                  : nullptr;
          if (ref != nullptr && ref->size() != items.count * count) {
            *error = "reference outputs of '" + io.name +
                     "': " + std::to_string(ref->size()) +
                     " values, expected " + std::to_string(items.count * count);
            return false;
          }
          for (size_t k = 0; k < count && ref != nullptr; ++k) {
            const double dq = double(info.scale) * (q[k] - info.zero_point);
            const double steps =
                fabs(dq - (*ref)[(first + i) * count + k]) / info.scale;
            a.ref_max_steps = std::max(a.ref_max_steps, steps);
            // 1e-3: the reference's own float rounding of its dequantize.
            a.ref_within += steps <= 1.0 + 1e-3;
            ++a.ref_values;
          }
          for (size_t k = 0; k < count && k < f.size(); ++k) {
            const double dq = double(info.scale) * (q[k] - info.zero_point);
            const double e = fabs(dq - f[k]);
            a.max_abs = std::max(a.max_abs, e);
            a.abs_sum += e;
            a.dot += dq * f[k];
            a.ff += double(f[k]) * f[k];
            a.qq += dq * dq;
            ++a.values;
          }
        }
        if (io.logits >= 0 && lo.logits_output >= 0) {
          const kiln_tensor_info info = runner.output_info(lo.logits_output);
          const size_t classes = info.item_bytes;
          const int8_t* q = reinterpret_cast<const int8_t*>(
                                outputs[size_t(lo.logits_output)].data()) +
                            i * classes;
          const std::vector<float>& f = values[size_t(io.logits)];
          const size_t q_top = ArgMaxInt(q, classes);
          const size_t f_top = ArgMax(f.data(), f.size());
          // Strict: the runtime's top-1 (ties go to the lower id, as
          // ArgMaxInt does) must be the float top-1.
          a.agree += q_top == f_top ? 1 : 0;
          if (!items.labels.empty()) {
            a.int8_hits += int32_t(q_top) == items.labels[first + i];
            a.float_hits += int32_t(f_top) == items.labels[first + i];
          }
        }
        if (lo.head >= 0 && lo.head < num_heads) {
          a.fallbacks +=
              decisions[i * size_t(num_heads) + size_t(lo.head)].fallback != 0;
        }
      }
    }
  }
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const Accumulator& a = acc[o];
    const ImportedOutputLayout& lo = layout.outputs[o];
    OutputEvaluation e;
    e.name = g.outputs[o].name;
    e.items = a.items;
    if (lo.int8_output >= 0) {
      e.scale = runner.output_info(lo.int8_output).scale;
      e.max_abs_error = a.max_abs;
      e.max_error_steps = e.scale > 0 ? a.max_abs / e.scale : 0.0;
      e.mean_abs_error = a.values ? a.abs_sum / double(a.values) : 0.0;
      e.cosine = (a.ff > 0 && a.qq > 0) ? a.dot / sqrt(a.ff * a.qq)
                 : (a.ff == a.qq)       ? 1.0
                                        : 0.0;
    }
    if (g.outputs[o].logits >= 0 && lo.logits_output >= 0 && a.items > 0) {
      e.top1_agreeing = a.agree;
      e.top1_agreement = double(a.agree) / double(a.items);
      if (!items.labels.empty()) {
        e.int8_accuracy = double(a.int8_hits) / double(a.items);
        e.float_accuracy = double(a.float_hits) / double(a.items);
      }
    }
    if (a.ref_values > 0) {
      e.reference_max_steps = a.ref_max_steps;
      e.reference_within_one_step = double(a.ref_within) / double(a.ref_values);
    }
    if (a.ref_values > 0) {
      e.reference_max_steps = a.ref_max_steps;
      e.reference_within_one_step = double(a.ref_within) / double(a.ref_values);
    }
    if (lo.head >= 0 && a.items > 0)
      e.fallback_rate = double(a.fallbacks) / double(a.items);
    out->outputs.push_back(e);
  }
  std::sort(call_us.begin(), call_us.end());
  out->runtime_us_per_item =
      call_us.empty() ? 0.0 : call_us[call_us.size() / 2];
  return true;
}

}  // namespace onnx_import
}  // namespace kiln
