// Small real .kiln models over the vendored digits dataset (8x8x1 uint8,
// values 0..16, classes "0".."9"), built without LibTorch for the eval,
// compare and model-data tests: a nearest-class-mean linear classifier
// (score_c = mu_c . x - |mu_c|^2 / 2 with x = pixels / 16, the class means of
// the train split) quantized by the real quantizer, with the training
// params stored in the metadata as `kiln build` does.
#ifndef KILN_TESTS_TOOLCHAIN_DIGITS_MODELS_H_
#define KILN_TESTS_TOOLCHAIN_DIGITS_MODELS_H_

#include <gtest/gtest.h>
#include <stdio.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "toolchain/data/sources.h"
#include "toolchain/data/split_manifest.h"
#include "toolchain/train/params.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace testing {

struct DigitsModelSpec {
  // Hidden ReLU layers of this width (>= 64) that pass the 64 pixels on
  // unchanged (identity block, zeros elsewhere): the same classifier, much
  // more work per item.
  std::vector<int32_t> hidden;
  // Swap the weights of classes 1<->7 and 3<->8: a clearly worse model.
  bool degrade = false;
  DecisionPolicy policy;  // of the head
  std::string head_name = "digits";
  // Stored as train_params when with_params; params.model.kind = mlp.
  bool with_params = true;
  train::TrainParams params;  // dataset defaults to "digits"
  // Model head labels in this order (class ids follow it); empty: "0".."9".
  // A label that is not a digit scores the digit of its position.
  std::vector<std::string> labels;
  // A second head "parity" (labels "even", "odd"), before the digit head
  // when parity_first.
  bool parity_head = false;
  bool parity_first = false;
};

// The digits dataset and its default splits (seed 1, 70/15/15).
inline const data::Dataset& Digits() {
  static const data::Dataset* dataset = [] {
    auto* d = new data::Dataset;
    std::string error;
    if (!data::OpenDataset("digits", d, &error)) ADD_FAILURE() << error;
    return d;
  }();
  return *dataset;
}

inline std::vector<data::Split> DigitsSplits() {
  data::SplitManifest manifest;
  std::vector<data::Split> splits;
  std::string error;
  EXPECT_TRUE(data::AssignSplits(Digits(), data::SplitOptions(), &manifest,
                                 &splits, nullptr, &error))
      << error;
  return splits;
}

inline std::vector<uint8_t> DigitsModelBytes(DigitsModelSpec spec) {
  const data::Dataset& ds = Digits();
  const std::vector<data::Split> splits = DigitsSplits();
  const size_t dim = 64;
  // Class means (x = pixels / 16) over the train split.
  std::vector<std::vector<double>> mean(10, std::vector<double>(dim, 0.0));
  std::vector<size_t> count(10, 0);
  for (size_t i = 0; i < ds.size(); ++i) {
    if (splits[i] != data::Split::kTrain) continue;
    const int32_t c = ds.labels[i];
    ++count[c];
    for (size_t j = 0; j < dim; ++j) mean[c][j] += ds.u8[i * dim + j] / 16.0;
  }
  for (int c = 0; c < 10; ++c) {
    for (double& v : mean[c]) v /= double(std::max<size_t>(count[c], 1));
  }
  if (spec.degrade) {
    std::swap(mean[1], mean[7]);
    std::swap(mean[3], mean[8]);
  }
  std::vector<std::string> labels = spec.labels;
  if (labels.empty()) {
    for (int c = 0; c < 10; ++c) labels.push_back(std::to_string(c));
  }

  train::FloatModel m;
  m.input_shape = {8, 8, 1};
  m.uint8_input = true;
  m.input_scale_real = 1.0f / 16.0f;
  int32_t prev = -1, width = static_cast<int32_t>(dim);
  for (size_t l = 0; l < spec.hidden.size(); ++l) {
    const int32_t h = spec.hidden[l];
    train::FloatLayer fc;
    fc.kind = train::LayerKind::kFullyConnected;
    fc.name = "hidden" + std::to_string(l);
    fc.input = prev;
    fc.weight_shape = {h, width};
    fc.weights.assign(size_t(h) * size_t(width), 0.0f);
    for (int32_t j = 0; j < std::min<int32_t>(h, 64); ++j) {
      fc.weights[size_t(j) * size_t(width) + size_t(j)] = 1.0f;
    }
    // Tiny weights elsewhere so that no output channel is all zeros.
    for (int32_t j = 64; j < h; ++j) {
      fc.weights[size_t(j) * size_t(width) + size_t(j % 64)] = 1e-3f;
    }
    fc.bias.assign(size_t(h), 0.0f);
    fc.activation = Activation::kRelu;
    m.layers.push_back(fc);
    prev = static_cast<int32_t>(m.layers.size()) - 1;
    width = h;
  }
  const int32_t features = prev;
  auto add_head = [&](const std::string& name,
                      const std::vector<std::string>& head_labels,
                      const std::vector<std::vector<double>>& w) {
    train::FloatLayer fc;
    fc.kind = train::LayerKind::kFullyConnected;
    fc.name = name;
    fc.input = features;
    const int32_t n = static_cast<int32_t>(w.size());
    fc.weight_shape = {n, width};
    fc.weights.assign(size_t(n) * size_t(width), 0.0f);
    fc.bias.assign(size_t(n), 0.0f);
    for (int32_t c = 0; c < n; ++c) {
      double norm = 0;
      for (size_t j = 0; j < dim; ++j) {
        fc.weights[size_t(c) * size_t(width) + j] = float(w[c][j]);
        norm += w[c][j] * w[c][j];
      }
      fc.bias[size_t(c)] = float(-0.5 * norm);
    }
    m.layers.push_back(fc);
    train::FloatHead head;
    head.name = name;
    head.layer = static_cast<int32_t>(m.layers.size()) - 1;
    head.labels = head_labels;
    head.policy = spec.policy;
    m.heads.push_back(head);
  };
  auto add_digit_head = [&] {
    // Class ids follow `labels`: row k scores the digit labels[k] (or digit
    // k when labels[k] is not a digit).
    std::vector<std::vector<double>> w;
    for (size_t k = 0; k < labels.size(); ++k) {
      const std::string& l = labels[k];
      const bool digit = l.size() == 1 && l[0] >= '0' && l[0] <= '9';
      w.push_back(mean[digit ? size_t(l[0] - '0') : k % 10]);
    }
    add_head(spec.head_name, labels, w);
  };
  auto add_parity_head = [&] {
    std::vector<std::vector<double>> w(2, std::vector<double>(dim, 0.0));
    for (int c = 0; c < 10; ++c) {
      for (size_t j = 0; j < dim; ++j) w[c % 2][j] += mean[c][j] / 5.0;
    }
    add_head("parity", {"even", "odd"}, w);
  };
  if (spec.parity_head && spec.parity_first) add_parity_head();
  add_digit_head();
  if (spec.parity_head && !spec.parity_first) add_parity_head();

  // Calibrate every layer's range on the train split.
  std::string error;
  train::FloatInterpreter interp;
  EXPECT_TRUE(interp.Init(m, &error)) << error;
  std::vector<train::Range> range(m.layers.size(), train::Range{1e30f, -1e30f});
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < ds.size(); ++i) {
    if (splits[i] != data::Split::kTrain) continue;
    interp.RunRaw(ds.item_bytes(i), &out);
    for (size_t l = 0; l < out.size(); ++l) {
      for (float v : out[l]) {
        range[l].min = std::min(range[l].min, v);
        range[l].max = std::max(range[l].max, v);
      }
    }
  }
  for (size_t l = 0; l < range.size(); ++l) m.layers[l].output = range[l];

  train::QuantizeOptions q;
  q.model_name = "digits-ncm";
  if (spec.with_params) {
    if (spec.params.dataset.empty()) spec.params.dataset = "digits";
    q.params_json = train::TrainParamsJson(spec.params);
  }
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(train::QuantizeModelToBytes(m, q, &bytes, &error)) << error;
  return bytes;
}

inline void WriteModelFile(const std::string& path,
                           const std::vector<uint8_t>& bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  ASSERT_EQ(fclose(f), 0);
}

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_TOOLCHAIN_DIGITS_MODELS_H_
