// Training a float model with LibTorch and exporting it as a FloatModel
// (float_model.h): BatchNorm folded, weights in Kiln layouts, ranges from
// calibration samples of the train split. No LibTorch type appears here.
//
//   kiln::train::TrainParams params;   // params.h
//   kiln::data::Dataset dataset;       // data/sources.h
//   std::vector<kiln::data::Split> splits;
//   PrepareSplits(params, dataset, &splits, &error);
//   kiln::train::TrainResult result;
//   if (!TrainFromParams(params, dataset, splits, &result, &error)) ...
//   WriteMetricsJson("metrics.json", result.metrics, &error);
//   WriteTrainingCurveSvg("curve.svg", result.metrics, &error);
//
// Determinism: the same params, dataset and splits give bit-identical
// weights on one machine (fixed seeds and thread count, shuffling by
// std::mt19937_64 over indices).
#ifndef KILN_TOOLCHAIN_TRAIN_TRAINER_H_
#define KILN_TOOLCHAIN_TRAIN_TRAINER_H_

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "toolchain/data/dataset.h"
#include "toolchain/train/float_model.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace train {

struct EpochMetrics {
  int32_t epoch = 0;  // 1-based
  double train_loss = 0;
  double valid_loss = 0;      // NaN without valid samples
  double valid_accuracy = 0;  // mean over heads; NaN without valid samples
  double lr = 0;              // at the end of the epoch
  double seconds = 0;
};

struct TrainMetrics {
  std::vector<EpochMetrics> epochs;
  int32_t best_epoch = 0;  // whose weights were kept (1-based)
  double best_valid_accuracy = 0;
  bool stopped_early = false;
  bool stopped_by_hook = false;  // TrainHooks::on_epoch said stop
  double seconds = 0;            // training only
  size_t train_samples = 0, valid_samples = 0;
  // Distillation (params.distillation.teacher set): the teacher's best valid
  // accuracy (mean over heads) and its training time. NaN and 0 without.
  double teacher_valid_accuracy = std::numeric_limits<double>::quiet_NaN();
  double teacher_seconds = 0;
};

// The trained LibTorch network (eval mode, BatchNorm not folded). Opaque.
class TrainedModel;

struct TrainResult {
  FloatModel model;
  TrainMetrics metrics;
  std::string params_json;  // TrainParamsJson(params): for the metadata
  // Per head: dataset class id -> head class id (identity for a plain
  // classifier). The true label of sample i for head h is
  // head_class_of[h][dataset.labels[i]].
  std::vector<std::vector<int32_t>> head_class_of;
  std::shared_ptr<const TrainedModel> trained;
  // Distillation only (empty / null without a teacher): the teacher's
  // TrainParamsJson and its trained network (for PredictFloat).
  std::string teacher_params_json;
  std::shared_ptr<const TrainedModel> teacher;
};

// Assigns the splits params.split asks for (loading and, if a manifest path
// is set, saving the split manifest).
bool PrepareSplits(const TrainParams& params, const data::Dataset& dataset,
                   std::vector<data::Split>* splits, std::string* error);

// Observers of a training run.
struct TrainHooks {
  // Called after every epoch's validation; returning false stops training
  // there (the best epoch so far is kept and exported, as with early
  // stopping). Hyperparameter search prunes bad trials with it.
  std::function<bool(const EpochMetrics&)> on_epoch;
  // When not empty, the best weights so far (parameters and BatchNorm
  // statistics) and their epoch are saved here after every epoch that
  // improves on the best: written to checkpoint_path + ".tmp", then renamed
  // over checkpoint_path, so the file is always a whole checkpoint. A write
  // failure stops training with an error. LoadCheckpoint reads it back.
  // (The teacher of a distillation is not checkpointed.)
  std::string checkpoint_path;
};

// Trains on the kTrain samples, early-stops on the kValid ones, calibrates
// on up to params.calibration.samples kTrain samples and exports. Progress
// (one line per epoch, with an ETA) goes to stderr unless quiet.
// Classification datasets only.
//
// Distillation: with params.distillation.teacher set, the teacher's params
// file is loaded and the teacher trained first, on the same dataset and
// splits, with its own seed; it must declare the same dataset, split rule,
// relabels and heads, and no teacher of its own. The student's loss is then,
// per head, alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
// + (1 - alpha) * task loss, the teacher (eval mode) seeing the same
// augmented batch. EpochMetrics::train_loss is that mixed loss; valid_loss
// stays the task loss. With alpha = 0 the student's weights are exactly
// those of training without a teacher.
bool TrainFromParams(const TrainParams& params, const data::Dataset& dataset,
                     const std::vector<data::Split>& splits,
                     TrainResult* result, std::string* error,
                     bool quiet = false, const TrainHooks* hooks = nullptr);

// Rebuilds the network `params` describes, loads the weights of a
// checkpoint TrainHooks::checkpoint_path wrote, and calibrates and exports
// it as TrainFromParams does after training: with the same params (the
// calibration may differ), dataset and splits, the same FloatModel, bit for
// bit. result->metrics has only best_epoch and best_valid_accuracy (from the
// checkpoint) and the sample counts. False and *error if the file is
// missing, not a Kiln checkpoint, or made for another architecture.
bool LoadCheckpoint(const std::string& path, const TrainParams& params,
                    const data::Dataset& dataset,
                    const std::vector<data::Split>& splits, TrainResult* result,
                    std::string* error);

// The network params.model describes with its initial weights (seeded by
// params.training.seed) and, if randomize_batchnorm, random BatchNorm
// statistics and affine parameters; exported and calibrated like a trained
// one. For tests of the export.
bool BuildUntrainedModel(const TrainParams& params,
                         const data::Dataset& dataset,
                         const std::vector<data::Split>& splits,
                         bool randomize_batchnorm, TrainResult* result,
                         std::string* error);

// Float logits of the samples `indices` from the LibTorch network:
// (*logits_per_head)[h] holds indices.size() rows of the head's class
// count, row-major.
bool PredictFloat(const TrainedModel& model, const data::Dataset& dataset,
                  const std::vector<size_t>& indices,
                  std::vector<std::vector<float>>* logits_per_head,
                  std::string* error);

// Written with WriteFileAtomic.
std::string MetricsJson(const TrainMetrics& metrics);
bool WriteMetricsJson(const std::string& path, const TrainMetrics& metrics,
                      std::string* error);
// Train/valid loss (left axis) and valid accuracy (right axis) per epoch.
std::string TrainingCurveSvg(const TrainMetrics& metrics);
bool WriteTrainingCurveSvg(const std::string& path, const TrainMetrics& metrics,
                           std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_TRAINER_H_
