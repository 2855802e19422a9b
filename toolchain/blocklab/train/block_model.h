// The block side-information network and its trainer: a small multi-task
// network with one head per decision (predictor 8, colour filter 96, scan
// 8, interleave 2), trained with LibTorch on losses that know bits,
// exported as a train::FloatModel (BatchNorm folded, activation ranges
// calibrated) for the quantizer. Two inputs (docs/block_model.md):
//
//  - kFeatures (the default): the block's cheap pixel statistics
//    (block_features.h, 132 floats) -> FC 128 -> FC 64 (shared trunk, ReLU)
//    -> per head FC 32 + ReLU -> logits; the predictor head adds a linear
//    map of the features (residual_skip below).
//  - kWindow: the raw 9x10x3 window -> conv3x3 (valid) -> depthwise 3x3 ->
//    pointwise 1x1 (BatchNorm + ReLU each) -> global average pool -> per
//    head FC 32 + ReLU -> logits. Kept for comparison: on the same data it
//    ranks worse than the heuristics (docs/block_model.md).
//
// Targets are soft: per head, q_i ∝ exp(-(bits_i - min_j bits_j) / T)
// over the exhaustive search's per-option minimum bits, so an option that
// costs one bit more than the best is almost as good an answer and one
// that costs fifty is a real mistake (regret-aware cross-entropy).
//
// No LibTorch type appears here. Deterministic for one machine: fixed seed,
// fixed thread count, index shuffles by std::mt19937_64.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_TRAIN_BLOCK_MODEL_H_
#define KILN_TOOLCHAIN_BLOCKLAB_TRAIN_BLOCK_MODEL_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/blocklab/block_dataset.h"
#include "toolchain/blocklab/block_features.h"
#include "toolchain/train/float_model.h"

namespace kiln {
namespace blocklab {

// The heads, in output order.
enum BlockHead { kHeadPredictor = 0, kHeadFilter, kHeadScan, kHeadInterleave };
constexpr int kBlockHeads = 4;
extern const char* const kBlockHeadNames[kBlockHeads];
constexpr int kBlockHeadClasses[kBlockHeads] = {kPredictors, kFilters, kScans,
                                                kInterleaves};
// The most options of each head that a guided search takes from it: the
// top-k grids of blocks_command.cc are built from these, and a compiled
// filter head names at most 16. Logit ranges are calibrated on them.
constexpr int kBlockHeadRanked[kBlockHeads] = {4, 16, kScans, kInterleaves};
// Per-option minimum bits of head h for one block (filter: by FilterIndex).
const uint32_t* HeadBits(const BlockLabels& labels, int head);

enum class BlockArch { kFeatures, kWindow };

// The model input of every example, example-major: kFeatures: the
// KILN_BLOCK_FEATURES floats; kWindow: the window's bytes / 255 (HWC).
struct BlockInputs {
  BlockArch arch = BlockArch::kFeatures;
  int32_t dim = 0;
  std::vector<float> x;
};
// Computes them for every example of `dataset` (`images` by image id).
void ComputeBlockInputs(const BlockDataset& dataset,
                        const std::vector<const Image*>& images, BlockArch arch,
                        BlockInputs* out);

struct BlockNetConfig {
  int32_t stem_channels = 32;
  int32_t channels = 48;              // pointwise output
  int32_t trunk1 = 128, trunk2 = 64;  // kFeatures
  int32_t head_hidden = 32;
  // kFeatures: the predictor logits also get a linear map of the input
  // (a wide path beside the deep one), initialised to minus the relative
  // residual magnitudes, so training starts from ranking the predictors by
  // sum |residual| and learns corrections to it.
  bool residual_skip = true;
  int32_t epochs = 40;
  int32_t batch = 256;
  double lr = 3e-3;
  double weight_decay = 1e-4;
  double temperature_bits = 2.0;  // T of the soft targets
  uint64_t seed = 1;
  int32_t threads = 2;
  int32_t calibration_samples = 2048;
};

struct BlockTrainMetrics {
  int32_t epochs = 0;
  int32_t best_epoch = 0;
  double best_valid_loss = 0;
  double seconds = 0;
  // Valid: share of blocks whose top-1 option is within 0 bits of the
  // per-option minimum, per head (exact-best, ties counted as right).
  double valid_top1[kBlockHeads] = {0, 0, 0, 0};
};

// Trains on dataset.examples[train], keeps the epoch with the lowest valid
// loss (on [valid]) and exports it, calibrated on up to
// config.calibration_samples train blocks. Progress to stderr unless quiet.
bool TrainBlockModel(const BlockDataset& dataset, const BlockInputs& inputs,
                     const std::vector<size_t>& train,
                     const std::vector<size_t>& valid,
                     const BlockNetConfig& config, train::FloatModel* model,
                     BlockTrainMetrics* metrics, std::string* error,
                     bool quiet = false);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_TRAIN_BLOCK_MODEL_H_
