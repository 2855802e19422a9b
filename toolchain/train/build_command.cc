// `kiln build PARAMS --out DIR`: the whole offline pipeline in one process.
//   params -> dataset -> persistent splits -> train (LibTorch) -> BN fold +
//   calibration -> quantize -> fallback calibration on the valid split ->
//   compile model.kiln (atomic) -> evaluate through the runtime on the test
//   split -> report.md, metrics.json, training curve and coverage plots.
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/data/content_hash.h"
#include "toolchain/data/sources.h"
#ifdef KILN_BUILD_WRITES_ONNX
#include "toolchain/onnx/onnx_export.h"
#endif
#include "toolchain/train/evaluate.h"
#include "toolchain/train/fallback_calibration.h"
#include "toolchain/train/params.h"
#include "toolchain/train/qat.h"
#include "toolchain/train/quantize_model.h"
#include "toolchain/train/trainer.h"
#include "toolchain/train/training_data.h"
#include "toolchain/version.h"

namespace kiln {
namespace cli {

const char kBuildUsage[] =
    "usage: kiln build PARAMS.json --out DIR [--target P] [--max-k K]\n"
    "                  [--json] [--quiet]\n"
    "\n"
    "Trains the model PARAMS.json declares (dataset, splits, model,\n"
    "training, calibration; see toolchain/train/params.h), quantizes it to\n"
    "INT8, chooses each head's fallback policy on the valid split so that\n"
    "the top-k of accepted items holds the answer for >= P of them (default\n"
    "0.99, k <= K, default 3), compiles DIR/model.kiln and evaluates it\n"
    "through the runtime on the test split. Writes DIR/report.md,\n"
    "DIR/metrics.json, DIR/training_curve.svg, DIR/coverage_<head>.svg,\n"
    "DIR/checkpoint.pt (best float weights, LibTorch),\n"
    "DIR/model.onnx (the float network that was quantized, as ONNX: see\n"
    "'kiln export-onnx --help'; when built with the ONNX exporter) and\n"
    "DIR/summary.json (what --json prints on stdout instead of the text\n"
    "summary). Progress goes to stderr unless --quiet.\n";

namespace {

using data::Split;

nlohmann::json JsonNumber(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

int Fail(const std::string& message) {
  fprintf(stderr, "kiln build: %s\n", message.c_str());
  return kExitFailure;
}

int Usage(const std::string& message) {
  fprintf(stderr, "kiln build: %s\n(run 'kiln build --help')\n",
          message.c_str());
  return kExitUsage;
}

bool ParseDouble(const std::string& text, double lo, double hi, double* v) {
  char* end = nullptr;
  *v = strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && *v >= lo && *v <= hi;
}

std::vector<size_t> IndicesOf(const std::vector<Split>& splits, Split which) {
  std::vector<size_t> out;
  for (size_t i = 0; i < splits.size(); ++i) {
    if (splits[i] == which) out.push_back(i);
  }
  return out;
}

// Raw input items of `indices`, contiguous, in the model's input format.
std::vector<uint8_t> GatherItems(const data::Dataset& ds,
                                 const std::vector<size_t>& indices) {
  const size_t bytes = ds.item_byte_size();
  std::vector<uint8_t> out(indices.size() * bytes);
  for (size_t k = 0; k < indices.size(); ++k) {
    std::copy_n(ds.item_bytes(indices[k]), bytes, out.data() + k * bytes);
  }
  return out;
}

// labels[h][k]: head h's class of item indices[k].
std::vector<std::vector<int32_t>> HeadLabels(
    const data::Dataset& ds, const std::vector<size_t>& indices,
    const train::TrainResult& trained) {
  std::vector<std::vector<int32_t>> labels(trained.head_class_of.size());
  for (size_t h = 0; h < labels.size(); ++h) {
    for (size_t i : indices) {
      labels[h].push_back(trained.head_class_of[h][ds.labels[i]]);
    }
  }
  return labels;
}

train::QuantizeOptions MetadataFor(const train::TrainParams& params,
                                   const train::TrainResult& trained,
                                   const std::string& dataset_hash,
                                   const std::string& params_path) {
  train::QuantizeOptions q;
  q.model_name = std::filesystem::path(params_path).stem().string();
  q.params_json = trained.params_json;
  q.training_data_hash = dataset_hash;
  q.created_by = "kiln build";
  q.toolchain_commit = ToolchainCommit();
  // Only reproducible facts: wall-clock times go to metrics.json, never into
  // the model, so the same params and seed give a byte-identical file.
  q.metrics["float_valid_accuracy"] = trained.metrics.best_valid_accuracy;
  q.properties["dataset"] = params.dataset;
  return q;
}

}  // namespace

int RunBuild(const Args& args) {
  std::string params_path, out_dir;
  train::FallbackOptions fallback;
  fallback.max_k = 3;
  bool quiet = false, json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--out" && has_value) {
      out_dir = args[++i];
    } else if (a == "--target" && has_value) {
      if (!ParseDouble(args[++i], 0.5, 1.0, &fallback.target)) {
        return Usage("--target takes a fraction in [0.5, 1]");
      }
    } else if (a == "--max-k" && has_value) {
      double k = 0;
      if (!ParseDouble(args[++i], 1, KILN_MAX_TOP_K, &k) || k != int(k)) {
        return Usage("--max-k takes an integer in [1, 16]");
      }
      fallback.max_k = static_cast<int32_t>(k);
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--json") {
      json = true;
    } else if (!a.empty() && a[0] != '-' && params_path.empty()) {
      params_path = a;
    } else {
      return Usage("unexpected argument '" + a + "'");
    }
  }
  if (params_path.empty() || out_dir.empty()) {
    return Usage("needs PARAMS.json and --out DIR");
  }

  std::string error;
  train::TrainParams params;
  if (!train::LoadTrainParams(params_path, &params, &error)) return Fail(error);
  data::Dataset dataset;
  if (!train::OpenTrainingDataset(params, &dataset, quiet, &error)) {
    return Fail(error);
  }
  std::error_code fs_error;
  for (const std::filesystem::path& dir :
       {std::filesystem::path(out_dir),
        std::filesystem::path(params.split.manifest).parent_path()}) {
    if (dir.empty()) continue;
    std::filesystem::create_directories(dir, fs_error);
    if (fs_error) {
      return Fail("cannot create " + dir.string() + ": " + fs_error.message());
    }
  }
  std::vector<Split> splits;
  if (!train::PrepareSplits(params, dataset, &splits, &error)) {
    return Fail(error);
  }

  // 1. Train (float), export with BN folded and activation ranges.
  train::TrainResult trained;
  train::TrainHooks hooks;
  hooks.checkpoint_path = out_dir + "/checkpoint.pt";
  if (!train::TrainFromParams(params, dataset, splits, &trained, &error, quiet,
                              &hooks)) {
    return Fail(error);
  }
  // 1b. Quantization-aware fine-tuning of the folded weights, when asked.
  train::QatMetrics qat;
  if (params.qat.epochs > 0 &&
      !train::QuantizationAwareTrain(params, dataset, splits,
                                     trained.head_class_of, &trained.model,
                                     &qat, &error, quiet)) {
    return Fail(error);
  }
  const std::vector<size_t> valid = IndicesOf(splits, Split::kValid);
  const std::vector<size_t> test = IndicesOf(splits, Split::kTest);
  if (valid.empty() || test.empty()) {
    return Fail("the valid and test splits must not be empty");
  }

  // 2. Quantize with provisional policies; read the int8 logits of the valid
  //    split through the runtime and choose each head's fallback policy.
  const std::string dataset_hash = data::DatasetHash(dataset);
  train::QuantizeOptions qopt =
      MetadataFor(params, trained, dataset_hash, params_path);
  std::vector<uint8_t> bytes;
  if (!train::QuantizeModelToBytes(trained.model, qopt, &bytes, &error)) {
    return Fail(error);
  }
  train::KilnRunner runner;
  if (!runner.Load(bytes, 256, &error)) return Fail(error);
  const std::vector<uint8_t> valid_items = GatherItems(dataset, valid);
  std::vector<std::vector<uint8_t>> outputs;
  if (!runner.Run(valid_items.data(), valid.size(), &outputs, nullptr,
                  &error)) {
    return Fail(error);
  }
  const auto valid_labels = HeadLabels(dataset, valid, trained);
  std::vector<train::HeadCalibration> calibrations;
  for (int32_t h = 0; h < runner.num_heads(); ++h) {
    const kiln_head_info info = runner.head_info(h);
    const kiln_tensor_info out = runner.output_info(info.output_index);
    train::HeadCalibration cal;
    if (!train::CalibrateFallback(
            reinterpret_cast<const int8_t*>(outputs[info.output_index].data()),
            valid.size(), info.num_classes, out.scale, out.zero_point,
            valid_labels[h], fallback, &cal, &error)) {
      return Fail(error);
    }
    trained.model.heads[h].policy = cal.policy;
    std::string svg_error;
    if (!train::WriteCoverageSvg(out_dir + "/coverage_" + info.name + ".svg",
                                 cal.per_k[cal.policy.top_k - 1].curve,
                                 std::string(info.name) + ": top-" +
                                     std::to_string(cal.policy.top_k) +
                                     " (valid split)",
                                 fallback.target, cal.threshold,
                                 cal.policy.confidence, &svg_error)) {
      return Fail(svg_error);
    }
    calibrations.push_back(cal);
  }

  // 3. Compile the final model (atomic write).
  if (!train::QuantizeModelToBytes(trained.model, qopt, &bytes, &error)) {
    return Fail(error);
  }
  const std::string model_path = out_dir + "/model.kiln";
  if (!WriteFileAtomic(model_path, bytes, &error)) return Fail(error);
#ifdef KILN_BUILD_WRITES_ONNX
  // 3b. The same float network (after QAT, with the chosen policies) as
  //     ONNX, for other tools.
  const std::string onnx_path = out_dir + "/model.onnx";
  {
    OnnxExportOptions onnx;
    onnx.model_name = qopt.model_name;
    onnx.producer_version = qopt.toolchain_commit;
    onnx.metadata["kiln.train_params"] = trained.params_json;
    std::vector<uint8_t> onnx_bytes;
    if (!ExportFloatModelToOnnx(trained.model, onnx, &onnx_bytes, &error) ||
        !WriteFileAtomic(onnx_path, onnx_bytes, &error)) {
      return Fail(error);
    }
  }
#endif

  // 4. Float accuracy of the trained network on the test split (LibTorch).
  std::vector<std::vector<float>> float_logits;
  if (!train::PredictFloat(*trained.trained, dataset, test, &float_logits,
                           &error)) {
    return Fail(error);
  }
  const auto test_labels = HeadLabels(dataset, test, trained);
  std::vector<double> float_top1;
  for (size_t h = 0; h < float_logits.size(); ++h) {
    const size_t classes = float_logits[h].size() / test.size();
    size_t hits = 0;
    for (size_t k = 0; k < test.size(); ++k) {
      const float* row = float_logits[h].data() + k * classes;
      const size_t best =
          static_cast<size_t>(std::max_element(row, row + classes) - row);
      hits += static_cast<int32_t>(best) == test_labels[h][k];
    }
    float_top1.push_back(double(hits) / test.size());
  }

  // 5. Evaluate the compiled model through the runtime.
  train::EvalOptions eopt;
  eopt.float_model = &trained.model;
  train::EvalResult eval;
  const std::vector<uint8_t> test_items = GatherItems(dataset, test);
  if (!train::EvaluateItems(bytes, test_items.data(), test.size(), test_labels,
                            eopt, &eval, &error)) {
    return Fail(error);
  }
  eval.model_name = qopt.model_name;
  for (auto& head : eval.heads) {
    head.plots.push_back("coverage_" + head.name + ".svg");
  }
  if (!train::WriteEvalReport(out_dir + "/report.md", eval, &error) ||
      !train::WriteMetricsJson(out_dir + "/metrics.json", trained.metrics,
                               &error) ||
      !train::WriteTrainingCurveSvg(out_dir + "/training_curve.svg",
                                    trained.metrics, &error)) {
    return Fail(error);
  }

  // 6. Summary: human text or JSON on stdout, and DIR/summary.json always.
  nlohmann::json summary;
  summary["model"] = {{"path", model_path},
                      {"bytes", bytes.size()},
                      {"toolchain_commit", qopt.toolchain_commit},
                      {"dataset_hash", dataset_hash}};
#ifdef KILN_BUILD_WRITES_ONNX
  summary["model"]["onnx"] = onnx_path;
#endif
  summary["splits"] = {{"train", IndicesOf(splits, Split::kTrain).size()},
                       {"valid", valid.size()},
                       {"test", test.size()}};
  summary["training"] = {
      {"epochs", trained.metrics.epochs.size()},
      {"seconds", trained.metrics.seconds},
      {"best_valid_accuracy", JsonNumber(trained.metrics.best_valid_accuracy)}};
  if (!params.distillation.teacher.empty()) {
    summary["training"]["teacher_valid_accuracy"] =
        JsonNumber(trained.metrics.teacher_valid_accuracy);
  }
  if (params.qat.epochs > 0) {
    summary["qat"] = {
        {"epochs", qat.epochs.size() - 1},
        {"best_epoch", qat.best_epoch},
        {"int8_valid_accuracy_before", JsonNumber(qat.initial_valid_accuracy)},
        {"int8_valid_accuracy_after", JsonNumber(qat.best_valid_accuracy)},
        {"seconds", qat.seconds}};
  }
  summary["fallback_target"] = fallback.target;
  nlohmann::json heads = nlohmann::json::array();
  for (size_t h = 0; h < eval.heads.size(); ++h) {
    const train::HeadEval& e = eval.heads[h];
    const train::HeadCalibration& c = calibrations[h];
    heads.push_back({{"name", e.name},
                     {"float_top1", float_top1[h]},
                     {"int8_top1", e.top1},
                     {"int8_top2", e.top2},
                     {"int8_top5", e.top5},
                     {"float_int8_agreement", e.float_agreement},
                     {"policy",
                      {{"top_k", c.policy.top_k},
                       {"threshold", c.policy.threshold_real},
                       {"valid_coverage", c.coverage},
                       {"valid_accepted_topk", c.accuracy},
                       {"target_met_on_valid", c.target_met}}},
                     {"test_fallback_rate", 1.0 - e.coverage},
                     {"test_accepted_topk", e.accepted_topk},
                     {"test_target_met",
                      e.accepted == 0 || e.accepted_topk >= fallback.target}});
  }
  summary["heads"] = heads;
  summary["latency_us"] = {{"batched_per_item", eval.batched_us_per_item},
                           {"batch", eval.batch},
                           {"batch1", eval.batch1_us}};
  summary["report"] = out_dir + "/report.md";
  const std::string summary_text = summary.dump(2) + "\n";
  if (!WriteFileAtomic(
          out_dir + "/summary.json",
          std::vector<uint8_t>(summary_text.begin(), summary_text.end()),
          &error)) {
    return Fail(error);
  }
  if (json) {
    fputs(summary_text.c_str(), stdout);
    return kExitOk;
  }

  printf("model       %s (%zu bytes), dataset hash %.16s...\n",
         model_path.c_str(), bytes.size(), dataset_hash.c_str());
#ifdef KILN_BUILD_WRITES_ONNX
  printf("onnx        %s (float network, for Netron / ONNX Runtime)\n",
         onnx_path.c_str());
#endif
  printf("splits      train %zu, valid %zu, test %zu\n",
         IndicesOf(splits, Split::kTrain).size(), valid.size(), test.size());
  printf("training    %zu epochs in %.1f s, best valid accuracy %.2f%%\n",
         trained.metrics.epochs.size(), trained.metrics.seconds,
         100.0 * trained.metrics.best_valid_accuracy);
  if (!params.distillation.teacher.empty()) {
    printf("teacher     %s: best valid accuracy %.2f%% (%.1f s)\n",
           params.distillation.teacher.c_str(),
           100.0 * trained.metrics.teacher_valid_accuracy,
           trained.metrics.teacher_seconds);
  }
  if (params.qat.epochs > 0) {
    printf(
        "qat         int8 valid accuracy %.2f%% -> %.2f%% (best epoch %d of "
        "%d, %.1f s)\n",
        100.0 * qat.initial_valid_accuracy, 100.0 * qat.best_valid_accuracy,
        qat.best_epoch, params.qat.epochs, qat.seconds);
  }
  for (size_t h = 0; h < eval.heads.size(); ++h) {
    const train::HeadEval& e = eval.heads[h];
    const train::HeadCalibration& c = calibrations[h];
    printf(
        "head %-8s test top-1: float %.2f%%  int8 %.2f%%  (agreement "
        "%.2f%%)\n",
        e.name.c_str(), 100.0 * float_top1[h], 100.0 * e.top1,
        100.0 * e.float_agreement);
    printf(
        "            fallback policy top-%d, threshold %.4f (valid: "
        "coverage %.1f%%, top-%d accuracy %.2f%%)\n",
        c.policy.top_k, c.policy.threshold_real, 100.0 * c.coverage,
        c.policy.top_k, 100.0 * c.accuracy);
    printf(
        "            test: fallback rate %.1f%%, accepted top-%d accuracy "
        "%.2f%% (target %.2f%%)\n",
        100.0 * (1.0 - e.coverage), e.top_k, 100.0 * e.accepted_topk,
        100.0 * fallback.target);
  }
  printf(
      "latency     %.2f us/item batched (batch %zu), %.2f us batch 1 "
      "(median, 1 thread)\n",
      eval.batched_us_per_item, eval.batch, eval.batch1_us);
  printf("report      %s/report.md\n", out_dir.c_str());
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
