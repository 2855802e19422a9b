// Quantization-aware training (QAT): fine-tunes the folded weights and
// biases of a train::FloatModel through a fake quantization that reproduces
// the runtime's integer arithmetic exactly, for when post-training
// quantization loses too much accuracy. No LibTorch type appears here.
//
//   TrainResult r;                       // trainer.h
//   TrainFromParams(params, dataset, splits, &r, &error);
//   if (params.qat.epochs > 0) {
//     QatMetrics qm;
//     if (!QuantizationAwareTrain(params, dataset, splits, r.head_class_of,
//                                 &r.model, &qm, &error)) ...
//   }
//   QuantizeModelToBytes(r.model, options, &bytes, &error);
//
// What stays fixed: the graph, every activation range (FloatLayer::output,
// FloatModel::input), hence every activation scale and zero point. What
// changes: the weights and biases of the Conv2D and FullyConnected layers,
// hence the weight scales, the int8 weights, the int32 biases and the
// requantization multipliers.
//
// The forward pass, for the weights of the current step, computes exactly
// what the runtime computes from the model BuildKilnModel would build from
// them: the activation quantization is read from the graph BuildKilnModel
// builds; the int8 weights, int32 biases, multipliers and clamps come from
// the builder's own functions (toolchain/quantization.h: per-channel
// QuantizeWeightsPerChannel, QuantizeBias, MakeRequant over
// kernels/requant.h's real multipliers, ActivationClamp); and the layers
// are run by the runtime's reference kernels (kernels/ref: Quantize,
// Conv2D, FullyConnected, MaxPool2D, AveragePool2D, GlobalAveragePool) on
// int8 tensors. Every layer's value is that exact int8 tensor
// (dequantized); gradients flow through a float fake-quant twin
// (straight-through estimator for the roundings, zero gradient where the
// output clamp saturates): y = y_float + (y_exact - y_float).detach().
// QatForward's int8 logits are byte-identical to the runtime's
// (tests/train/qat_test.cc).
//
// Training: AdamW (params.qat.lr, params.training.weight_decay), cosine
// decay to 0 over params.qat.epochs, batches of params.qat.batch_size from
// the kTrain split shuffled by std::mt19937_64 seeded with
// params.training.seed, params.training.threads threads; the loss of
// params.training (cross-entropy or focal, label smoothing, class weights)
// summed over heads. params.training.augmentation is applied to the raw
// items before the graph's Quantize (shift and flip move raw values;
// brightness and noise are applied in real units and rounded back to the
// raw uint8 grid, since the runtime only ever sees raw items). After every
// epoch the int8 top-1 accuracy on the kValid split (mean over heads, ties
// to the lower class id as the runtime ranks them) is measured with the
// exact forward; the best epoch's weights are kept, and the weights before
// QAT (epoch 0) count as a candidate, so QAT never returns a model that is
// worse on the valid split than post-training quantization. Without valid
// samples the last epoch is kept.
//
// Determinism: the same params, dataset, splits and model give bit-identical
// weights on one machine (fixed seed and thread count).
#ifndef KILN_TOOLCHAIN_TRAIN_QAT_H_
#define KILN_TOOLCHAIN_TRAIN_QAT_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/data/dataset.h"
#include "toolchain/train/float_model.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace train {

struct QatEpochMetrics {
  int32_t epoch = 0;          // 1-based; 0 = before QAT
  double train_loss = 0;      // mean over the epoch and heads; 0 for epoch 0
  double valid_accuracy = 0;  // int8, mean over heads; NaN without valid
  double lr = 0;              // at the end of the epoch
  double seconds = 0;
};

struct QatMetrics {
  // epochs[0] is the model as given (post-training quantization), then one
  // entry per QAT epoch.
  std::vector<QatEpochMetrics> epochs;
  int32_t best_epoch = 0;  // whose weights were kept; 0 = the original ones
  double initial_valid_accuracy = 0;  // int8 (PTQ); NaN without valid
  double best_valid_accuracy = 0;     // int8; NaN without valid
  double seconds = 0;                 // whole run
  double seconds_per_epoch = 0;       // mean over the QAT epochs
  size_t train_samples = 0, valid_samples = 0;
};

// Fine-tunes model's Conv2D/FullyConnected weights and biases as described
// above. head_class_of[h][dataset label] is head h's class of a sample (as
// in TrainResult). params.qat.epochs == 0 leaves the model unchanged (the
// metrics then hold epoch 0 only). Progress (one line per epoch, with an
// ETA) goes to stderr unless quiet. False and *error on inconsistent
// inputs (dataset vs model, heads, splits), bad qat params, an empty train
// split, or weights the builder would refuse; *model is then unchanged.
bool QuantizationAwareTrain(
    const TrainParams& params, const data::Dataset& dataset,
    const std::vector<data::Split>& splits,
    const std::vector<std::vector<int32_t>>& head_class_of, FloatModel* model,
    QatMetrics* metrics, std::string* error, bool quiet = false);

// The exact (fake-quant) forward pass alone: `n` raw items (uint8 pixels or
// float32 features, model.input_shape each, contiguous) in, each head's int8
// logits out ((*head_logits_q)[h]: n rows of the head's class count,
// row-major), equal to the runtime's output of QuantizeModelToBytes(model).
// Uses the calling thread's LibTorch thread setting.
bool QatForward(const FloatModel& model, const void* raw_items, size_t n,
                std::vector<std::vector<int8_t>>* head_logits_q,
                std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_QAT_H_
