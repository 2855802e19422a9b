// LibTorch trainer of the block side-information network (block_model.h).
#include "toolchain/blocklab/train/block_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/train/range_calibration.h"

namespace kiln {
namespace blocklab {

const char* const kBlockHeadNames[kBlockHeads] = {"predictor", "filter", "scan",
                                                  "interleave"};

const uint32_t* HeadBits(const BlockLabels& labels, int head) {
  switch (head) {
    case kHeadPredictor:
      return labels.predictor_bits;
    case kHeadFilter:
      return labels.filter_bits;
    case kHeadScan:
      return labels.scan_bits;
    default:
      return labels.interleave_bits;
  }
}

namespace {

struct ConvBn {
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  int pad = 0;
  int groups = 1;
};

struct BlockNetImpl : torch::nn::Module {
  BlockArch arch;
  ConvBn stem, dw, pw;                           // kWindow
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};  // kFeatures
  torch::nn::Linear skip{nullptr};               // kFeatures with residual_skip
  std::vector<torch::nn::Linear> hidden, logits;

  BlockNetImpl(const BlockNetConfig& c, BlockArch a, int64_t dim) : arch(a) {
    int64_t trunk = 0;
    if (arch == BlockArch::kWindow) {
      stem = MakeConv("stem", 3, c.stem_channels, 3, 0, 1);
      dw = MakeConv("dw", c.stem_channels, c.stem_channels, 3, 1,
                    c.stem_channels);
      pw = MakeConv("pw", c.stem_channels, c.channels, 1, 0, 1);
      trunk = c.channels;
    } else {
      fc1 = register_module("fc1", torch::nn::Linear(dim, c.trunk1));
      fc2 = register_module("fc2", torch::nn::Linear(c.trunk1, c.trunk2));
      trunk = c.trunk2;
      if (c.residual_skip) {
        // Starts as a heuristic: logit j = minus predictor j's relative
        // log2 residual magnitude, so the smaller sum |residual| ranks
        // first. (Starting from the residual energy instead, the codec's
        // own ranking, measured worse: docs/block_model.md.)
        skip = register_module("predictor_skip",
                               torch::nn::Linear(dim, kPredictors));
        torch::NoGradGuard no_grad;
        skip->weight.zero_();
        skip->bias.zero_();
        for (int j = 0; j < kPredictors; ++j)
          skip->weight[j][KILN_BLOCK_MAGNITUDE_FEATURES + j] = -1.0f;
      }
    }
    for (int h = 0; h < kBlockHeads; ++h) {
      std::string name = kBlockHeadNames[h];
      hidden.push_back(register_module(
          name + "_fc", torch::nn::Linear(trunk, c.head_hidden)));
      logits.push_back(register_module(
          name + "_logits",
          torch::nn::Linear(c.head_hidden, kBlockHeadClasses[h])));
    }
  }
  ConvBn MakeConv(const std::string& name, int64_t in, int64_t out, int k,
                  int pad, int groups) {
    ConvBn cb;
    cb.pad = pad;
    cb.groups = groups;
    cb.conv = register_module(
        name, torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k)
                                    .padding(pad)
                                    .groups(groups)
                                    .bias(false)));
    cb.bn = register_module(name + "_bn", torch::nn::BatchNorm2d(out));
    return cb;
  }
  static torch::Tensor Apply(ConvBn& cb, const torch::Tensor& x) {
    return torch::relu(cb.bn->forward(cb.conv->forward(x)));
  }
  torch::Tensor Trunk(const torch::Tensor& x) {
    if (arch == BlockArch::kWindow)
      return Apply(pw, Apply(dw, Apply(stem, x))).mean({2, 3});
    return torch::relu(fc2->forward(torch::relu(fc1->forward(x))));
  }
  std::vector<torch::Tensor> Forward(const torch::Tensor& x) {
    torch::Tensor f = Trunk(x);
    std::vector<torch::Tensor> out;
    for (int h = 0; h < kBlockHeads; ++h)
      out.push_back(logits[h]->forward(torch::relu(hidden[h]->forward(f))));
    if (skip) out[kHeadPredictor] = out[kHeadPredictor] + skip->forward(x);
    return out;
  }
};
TORCH_MODULE(BlockNet);

// Inputs of `idx`: NCHW for the window, [n, dim] for features.
torch::Tensor Inputs(const BlockInputs& in, const std::vector<size_t>& idx) {
  const int64_t n = static_cast<int64_t>(idx.size());
  torch::Tensor t = torch::empty({n, in.dim});
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(in.x.data() + idx[static_cast<size_t>(i)] * in.dim, in.dim,
                p + i * in.dim);
  if (in.arch == BlockArch::kFeatures) return t;
  return t.view({n, kWindowRows, kWindowCols, 3})
      .permute({0, 3, 1, 2})
      .contiguous();
}

// Soft targets of head h for `idx`: rows sum to 1; pruned options get 0.
torch::Tensor Targets(const BlockDataset& d, const std::vector<size_t>& idx,
                      int h, double temperature) {
  const int64_t n = static_cast<int64_t>(idx.size());
  const int k = kBlockHeadClasses[h];
  torch::Tensor t = torch::zeros({n, k});
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t* bits =
        HeadBits(d.examples[idx[static_cast<size_t>(i)]].labels, h);
    uint32_t best = kPrunedBits;
    for (int j = 0; j < k; ++j) best = std::min(best, bits[j]);
    double sum = 0;
    for (int j = 0; j < k; ++j) {
      if (bits[j] == kPrunedBits) continue;
      double w = std::exp(-(static_cast<double>(bits[j]) - best) / temperature);
      p[i * k + j] = static_cast<float>(w);
      sum += w;
    }
    for (int j = 0; j < k && sum > 0; ++j)
      p[i * k + j] /= static_cast<float>(sum);
  }
  return t;
}

torch::Tensor SoftCrossEntropy(const torch::Tensor& logits,
                               const torch::Tensor& q) {
  return -(q * torch::log_softmax(logits, 1)).sum(1).mean();
}

std::pair<torch::Tensor, torch::Tensor> Fold(ConvBn& cb) {
  torch::Tensor w = cb.conv->weight.detach();
  torch::Tensor scale =
      cb.bn->weight.detach() /
      torch::sqrt(cb.bn->running_var.detach() + cb.bn->options.eps());
  torch::Tensor fw = (w * scale.view({-1, 1, 1, 1})).contiguous();
  torch::Tensor fb =
      (cb.bn->bias.detach() - cb.bn->running_mean.detach() * scale)
          .contiguous();
  return {fw, fb};
}

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(),
                            c.data_ptr<float>() + c.numel());
}

void Observe(train::RangeObserver* o, const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  o->Observe(c.data_ptr<float>(), static_cast<size_t>(c.numel()));
}

train::FloatLayer LinearLayer(torch::nn::Linear& lin, const std::string& name,
                              int32_t input, bool relu) {
  train::FloatLayer L;
  L.kind = train::LayerKind::kFullyConnected;
  L.name = name;
  L.input = input;
  L.weights = ToVector(lin->weight.detach());
  L.weight_shape = {static_cast<int32_t>(lin->weight.size(0)),
                    static_cast<int32_t>(lin->weight.size(1))};
  L.bias = ToVector(lin->bias.detach());
  L.activation = relu ? Activation::kRelu : Activation::kNone;
  return L;
}

// Folds BatchNorm, calibrates min/max ranges on `calib` and writes *model.
// Layers in order: the trunk (window: stem, dw, pw, gap; features: fc1,
// fc2), then per head its fc and logits.
bool Export(BlockNetImpl& net, const BlockInputs& in,
            const std::vector<size_t>& calib, train::FloatModel* model,
            std::string* error) {
  torch::NoGradGuard no_grad;
  net.eval();
  const bool window = net.arch == BlockArch::kWindow;
  ConvBn* convs[3] = {&net.stem, &net.dw, &net.pw};
  std::pair<torch::Tensor, torch::Tensor> folded[3];
  if (window)
    for (int i = 0; i < 3; ++i) folded[i] = Fold(*convs[i]);

  const size_t trunk_layers = window ? 4 : 2;
  const bool skip = !net.skip.is_empty();
  const size_t layers = trunk_layers + 2 * kBlockHeads + (skip ? 2 : 0);
  train::CalibrationParams cal;
  train::RangeObserver input_obs(cal);
  std::vector<train::RangeObserver> obs(layers, train::RangeObserver(cal));
  for (size_t s = 0; s < calib.size(); s += 512) {
    std::vector<size_t> idx(
        calib.begin() + static_cast<std::ptrdiff_t>(s),
        calib.begin() +
            static_cast<std::ptrdiff_t>(std::min(calib.size(), s + 512)));
    torch::Tensor x = Inputs(in, idx);
    const torch::Tensor input = x;
    Observe(&input_obs, x);
    std::vector<torch::Tensor> y;
    if (window) {
      for (int i = 0; i < 3; ++i) {
        x = torch::relu(torch::conv2d(x, folded[i].first, folded[i].second, 1,
                                      convs[i]->pad, 1, convs[i]->groups));
        y.push_back(x);
      }
      x = x.mean({2, 3});
      y.push_back(x);
    } else {
      x = torch::relu(net.fc1->forward(x));
      y.push_back(x);
      x = torch::relu(net.fc2->forward(x));
      y.push_back(x);
    }
    for (int h = 0; h < kBlockHeads; ++h) {
      torch::Tensor a = torch::relu(net.hidden[h]->forward(x));
      y.push_back(a);
      // A head's logits only rank its options, and no search tries more
      // than its first kBlockHeadRanked: their ranges come from those
      // (per block, the top ones), so a hopeless option saturates at the
      // bottom instead of spending int8 steps the ranking needs.
      const torch::Tensor deep = net.logits[h]->forward(a);
      const int64_t k = kBlockHeadRanked[h];
      if (skip && h == kHeadPredictor) {
        const torch::Tensor wide = net.skip->forward(input);
        const torch::Tensor sum = deep + wide;
        const torch::Tensor top = std::get<1>(sum.topk(k, 1));
        y.push_back(deep.gather(1, top));
        y.push_back(wide.gather(1, top));
        y.push_back(sum.gather(1, top));
      } else {
        y.push_back(std::get<0>(deep.topk(k, 1)));
      }
    }
    for (size_t l = 0; l < layers; ++l) Observe(&obs[l], y[l]);
  }

  *model = train::FloatModel();
  if (window) {
    model->input_shape = {kWindowRows, kWindowCols, 3};
    model->uint8_input = true;
    model->input_scale_real = 1.0f / 255.0f;
    const char* conv_names[3] = {"stem", "dw", "pw"};
    for (int i = 0; i < 3; ++i) {
      train::FloatLayer L;
      L.kind = train::LayerKind::kConv2D;
      L.name = conv_names[i];
      L.input = i - 1;
      torch::Tensor w = folded[i].first.permute({0, 2, 3, 1}).contiguous();
      L.weights = ToVector(w);
      for (int64_t d : w.sizes())
        L.weight_shape.push_back(static_cast<int32_t>(d));
      L.bias = ToVector(folded[i].second);
      L.conv.pad_top = L.conv.pad_bottom = L.conv.pad_left = L.conv.pad_right =
          convs[i]->pad;
      L.conv.groups = convs[i]->groups;
      L.activation = Activation::kRelu;
      model->layers.push_back(std::move(L));
    }
    train::FloatLayer gap;
    gap.kind = train::LayerKind::kGlobalAveragePool;
    gap.name = "gap";
    gap.input = 2;
    model->layers.push_back(gap);
  } else {
    model->input_shape = {in.dim};
    model->uint8_input = false;
    model->input_scale_real = 1.0f;
    model->layers.push_back(LinearLayer(net.fc1, "fc1", -1, true));
    model->layers.push_back(LinearLayer(net.fc2, "fc2", 0, true));
  }
  const int32_t trunk = static_cast<int32_t>(trunk_layers) - 1;
  for (int h = 0; h < kBlockHeads; ++h) {
    const std::string name = kBlockHeadNames[h];
    model->layers.push_back(
        LinearLayer(net.hidden[h], name + "/fc", trunk, true));
    model->layers.push_back(
        LinearLayer(net.logits[h], name + "/logits",
                    static_cast<int32_t>(model->layers.size()) - 1, false));
    if (skip && h == kHeadPredictor) {
      const int32_t deep = static_cast<int32_t>(model->layers.size()) - 1;
      model->layers.push_back(
          LinearLayer(net.skip, name + "/residual_skip", -1, false));
      train::FloatLayer sum;
      sum.kind = train::LayerKind::kAdd;
      sum.name = name + "/sum";
      sum.input = deep;
      sum.input2 = deep + 1;
      model->layers.push_back(sum);
    }
    train::FloatHead head;
    head.name = name;
    head.layer = static_cast<int32_t>(model->layers.size()) - 1;
    for (int c = 0; c < kBlockHeadClasses[h]; ++c)
      head.labels.push_back(
          std::to_string(h == kHeadFilter ? FilterCodeAt(c) : c));
    model->heads.push_back(head);
  }
  for (size_t l = 0; l < layers; ++l) {
    if (!obs[l].Reduce(&model->layers[l].output, error)) {
      *error =
          "calibration of layer '" + model->layers[l].name + "': " + *error;
      return false;
    }
  }
  if (!input_obs.Reduce(&model->input, error)) {
    *error = "calibration of the input: " + *error;
    return false;
  }
  return true;
}

}  // namespace

void ComputeBlockInputs(const BlockDataset& dataset,
                        const std::vector<const Image*>& images, BlockArch arch,
                        BlockInputs* out) {
  out->arch = arch;
  out->dim = arch == BlockArch::kWindow ? kWindowBytes : KILN_BLOCK_FEATURES;
  out->x.assign(dataset.examples.size() * static_cast<size_t>(out->dim), 0.0f);
  for (size_t i = 0; i < dataset.examples.size(); ++i) {
    const BlockExample& e = dataset.examples[i];
    float* x = out->x.data() + i * static_cast<size_t>(out->dim);
    if (arch == BlockArch::kWindow) {
      for (int j = 0; j < kWindowBytes; ++j) x[j] = e.window[j] / 255.0f;
    } else {
      const BlockRect r = BlockAt(*images[e.image], e.block);
      kiln_block_features(e.window, r.w, r.h, x);
    }
  }
}

bool TrainBlockModel(const BlockDataset& dataset, const BlockInputs& inputs,
                     const std::vector<size_t>& train,
                     const std::vector<size_t>& valid,
                     const BlockNetConfig& config, train::FloatModel* model,
                     BlockTrainMetrics* metrics, std::string* error,
                     bool quiet) {
  if (train.empty() || valid.empty()) {
    *error = "the block model needs train and valid blocks";
    return false;
  }
  auto t0 = std::chrono::steady_clock::now();
  torch::manual_seed(config.seed);
  torch::set_num_threads(config.threads);
  BlockNet net(config, inputs.arch, inputs.dim);
  torch::optim::AdamW opt(
      net->parameters(),
      torch::optim::AdamWOptions(config.lr).weight_decay(config.weight_decay));

  torch::Tensor vx = Inputs(inputs, valid);
  std::vector<torch::Tensor> vq;
  for (int h = 0; h < kBlockHeads; ++h)
    vq.push_back(Targets(dataset, valid, h, config.temperature_bits));

  std::mt19937_64 rng(config.seed);
  std::vector<size_t> order = train;
  const size_t steps_per_epoch =
      (train.size() + static_cast<size_t>(config.batch) - 1) /
      static_cast<size_t>(config.batch);
  const double total_steps =
      static_cast<double>(steps_per_epoch) * config.epochs;
  size_t step = 0;
  std::vector<torch::Tensor> best_state;
  double best_loss = std::numeric_limits<double>::infinity();
  *metrics = BlockTrainMetrics();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    net->train();
    std::shuffle(order.begin(), order.end(), rng);
    double train_loss = 0;
    for (size_t s = 0; s < order.size();
         s += static_cast<size_t>(config.batch)) {
      std::vector<size_t> idx(
          order.begin() + static_cast<std::ptrdiff_t>(s),
          order.begin() +
              static_cast<std::ptrdiff_t>(std::min(
                  order.size(), s + static_cast<size_t>(config.batch))));
      // Cosine schedule with one epoch of linear warm-up.
      double lr = config.lr;
      if (step < steps_per_epoch) {
        lr *= static_cast<double>(step + 1) / steps_per_epoch;
      } else {
        lr *= 0.5 * (1 + std::cos(M_PI * step / total_steps));
      }
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      ++step;
      std::vector<torch::Tensor> out = net->Forward(Inputs(inputs, idx));
      torch::Tensor loss = torch::zeros({});
      for (int h = 0; h < kBlockHeads; ++h)
        loss = loss +
               SoftCrossEntropy(
                   out[h], Targets(dataset, idx, h, config.temperature_bits));
      opt.zero_grad();
      loss.backward();
      opt.step();
      train_loss += loss.item<double>() * static_cast<double>(idx.size());
    }
    train_loss /= static_cast<double>(order.size());

    torch::NoGradGuard no_grad;
    net->eval();
    std::vector<torch::Tensor> out = net->Forward(vx);
    double valid_loss = 0;
    double top1[kBlockHeads];
    for (int h = 0; h < kBlockHeads; ++h) {
      valid_loss += SoftCrossEntropy(out[h], vq[h]).item<double>();
      torch::Tensor arg = out[h].argmax(1).contiguous();
      const int64_t* a = arg.data_ptr<int64_t>();
      size_t right = 0;
      for (size_t i = 0; i < valid.size(); ++i) {
        const uint32_t* bits = HeadBits(dataset.examples[valid[i]].labels, h);
        uint32_t best = *std::min_element(bits, bits + kBlockHeadClasses[h]);
        right += bits[a[i]] == best;
      }
      top1[h] = static_cast<double>(right) / static_cast<double>(valid.size());
    }
    if (!std::isfinite(valid_loss)) {
      *error = "block model training diverged (non-finite loss) at epoch " +
               std::to_string(epoch);
      return false;
    }
    if (valid_loss < best_loss) {
      best_loss = valid_loss;
      metrics->best_epoch = epoch;
      std::copy(top1, top1 + kBlockHeads, metrics->valid_top1);
      best_state.clear();
      for (const auto& p : net->named_parameters())
        best_state.push_back(p.value().detach().clone());
      for (const auto& b : net->named_buffers())
        best_state.push_back(b.value().detach().clone());
    }
    metrics->epochs = epoch;
    if (!quiet) {
      fprintf(stderr,
              "[blocks] epoch %2d/%d  train %.4f  valid %.4f  top-1 pred %.3f "
              "filter %.3f scan %.3f interleave %.3f\n",
              epoch, config.epochs, train_loss, valid_loss, top1[0], top1[1],
              top1[2], top1[3]);
    }
  }
  {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& p : net->named_parameters()) p.value().copy_(best_state[i++]);
    for (auto& b : net->named_buffers()) b.value().copy_(best_state[i++]);
  }
  metrics->best_valid_loss = best_loss;
  std::vector<size_t> calib = train;
  std::shuffle(calib.begin(), calib.end(), rng);
  calib.resize(
      std::min(calib.size(), static_cast<size_t>(config.calibration_samples)));
  std::sort(calib.begin(), calib.end());
  if (!Export(*net, inputs, calib, model, error)) return false;
  metrics->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  return true;
}

}  // namespace blocklab
}  // namespace kiln
