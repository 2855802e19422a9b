// The LibTorch half of the trainer: the network (a list of nodes that map
// one-to-one to FloatModel layers), the training loop, BatchNorm folding,
// calibration and export. The only file of kiln_train that includes torch.
#include "toolchain/train/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <utility>

#include "toolchain/data/digits.h"
#include "toolchain/train/heads.h"
#include "toolchain/train/range_calibration.h"

namespace kiln {
namespace train {

namespace {

enum class NodeType { kConv, kMaxPool, kGap, kLinear };

// One FloatModel layer: conv(+BN)(+ReLU), max-pool 2x2, GAP, linear(+ReLU).
struct Node {
  NodeType type = NodeType::kConv;
  std::string name;
  int input = -1;  // node index, -1 = network input
  bool relu = false;
  int groups = 1;
  int pad = 0;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear linear{nullptr};
  // Output shape per item: {C, H, W} (spatial) or {N}.
  std::vector<int64_t> shape;
};

// Runs the graph over x (NCHW) and returns every node's output. Pools and
// GAP are the same in every walk; `weighted(i, in)` computes conv or linear
// node i (before its ReLU), from the live modules or from folded weights.
template <typename Weighted>
std::vector<torch::Tensor> WalkNodes(const std::vector<Node>& nodes,
                                     const torch::Tensor& x,
                                     Weighted weighted) {
  std::vector<torch::Tensor> out;
  out.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const torch::Tensor in =
        n.input < 0 ? x : out[static_cast<size_t>(n.input)];
    torch::Tensor y;
    switch (n.type) {
      case NodeType::kConv:
      case NodeType::kLinear:
        y = weighted(i, in);
        break;
      case NodeType::kMaxPool:
        y = torch::max_pool2d(in, {2, 2}, {2, 2});
        break;
      case NodeType::kGap:
        y = in.mean({2, 3});
        break;
    }
    if (n.relu) y = torch::relu(y);
    out.push_back(y);
  }
  return out;
}

struct NetImpl : torch::nn::Module {
  std::vector<Node> nodes;
  std::vector<int> heads;  // node indices of the logits
  std::vector<int64_t> input_chw;

  void AddConv(const std::string& name, int input, int64_t out_c, int kernel,
               int groups) {
    const std::vector<int64_t>& in = Shape(input);
    Node n;
    n.type = NodeType::kConv;
    n.name = name;
    n.input = input;
    n.relu = true;
    n.groups = groups;
    n.pad = kernel / 2;
    n.conv = register_module(
        name, torch::nn::Conv2d(torch::nn::Conv2dOptions(in[0], out_c, kernel)
                                    .padding(n.pad)
                                    .groups(groups)
                                    .bias(false)));
    n.bn = register_module(name + "_bn", torch::nn::BatchNorm2d(out_c));
    n.shape = {out_c, in[1], in[2]};
    nodes.push_back(std::move(n));
  }
  void AddPool(const std::string& name, int input, NodeType type) {
    const std::vector<int64_t>& in = Shape(input);
    Node n;
    n.type = type;
    n.name = name;
    n.input = input;
    n.shape = type == NodeType::kGap
                  ? std::vector<int64_t>{in[0]}
                  : std::vector<int64_t>{in[0], in[1] / 2, in[2] / 2};
    nodes.push_back(std::move(n));
  }
  void AddLinear(const std::string& name, int input, int64_t out, bool relu) {
    const std::vector<int64_t>& in = Shape(input);
    int64_t k = 1;
    for (int64_t d : in) k *= d;
    Node n;
    n.type = NodeType::kLinear;
    n.name = name;
    n.input = input;
    n.relu = relu;
    n.linear = register_module(name, torch::nn::Linear(k, out));
    n.shape = {out};
    nodes.push_back(std::move(n));
  }
  const std::vector<int64_t>& Shape(int index) const {
    return index < 0 ? input_chw : nodes[static_cast<size_t>(index)].shape;
  }
  int last() const { return static_cast<int>(nodes.size()) - 1; }

  // Outputs of every node (x: NCHW).
  std::vector<torch::Tensor> ForwardAll(const torch::Tensor& x) {
    return WalkNodes(nodes, x, [this](size_t i, const torch::Tensor& in) {
      Node& n = nodes[i];
      return n.type == NodeType::kConv ? n.bn->forward(n.conv->forward(in))
                                       : n.linear->forward(in.flatten(1));
    });
  }
  std::vector<torch::Tensor> Forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> all = ForwardAll(x);
    std::vector<torch::Tensor> logits;
    for (int h : heads) logits.push_back(all[static_cast<size_t>(h)]);
    return logits;
  }
};
TORCH_MODULE(Net);

Net BuildNet(const TrainParams& params, const std::vector<int64_t>& chw,
             const std::vector<HeadInfo>& heads) {
  Net net;
  net->input_chw = chw;
  const ModelParams& m = params.model;
  auto add_head = [&](int from, const std::string& prefix, int64_t classes) {
    int at = from;
    for (size_t i = 0; i < m.hidden.size(); ++i) {
      net->AddLinear(prefix + "fc" + std::to_string(i + 1), at, m.hidden[i],
                     true);
      at = net->last();
    }
    net->AddLinear(prefix + "logits", at, classes, false);
    net->heads.push_back(net->last());
  };
  int64_t classes = static_cast<int64_t>(heads[0].labels.size());
  if (m.kind == ModelKind::kMlp) {
    add_head(-1, "", classes);
  } else if (m.kind == ModelKind::kCnn) {
    int at = -1;
    for (size_t b = 0; b < m.channels.size(); ++b) {
      if (b > 0) {
        net->AddPool("pool" + std::to_string(b), at, NodeType::kMaxPool);
        at = net->last();
      }
      for (int32_t c = 0; c < m.convs_per_block; ++c) {
        std::string name = "conv" + std::to_string(b + 1);
        if (m.convs_per_block > 1) name += "_" + std::to_string(c + 1);
        net->AddConv(name, at, m.channels[b], 3, 1);
        at = net->last();
      }
    }
    if (m.head == CnnHead::kGlobalAveragePool) {
      net->AddPool("gap", at, NodeType::kGap);
    } else {
      net->AddPool("pool" + std::to_string(m.channels.size()), at,
                   NodeType::kMaxPool);
    }
    add_head(net->last(), "", classes);
  } else {
    net->AddConv("stem", -1, m.channels[0], 3, 1);
    int at = net->last();
    for (size_t b = 1; b < m.channels.size(); ++b) {
      std::string s = std::to_string(b);
      net->AddPool("pool" + s, at, NodeType::kMaxPool);
      int64_t c = net->nodes.back().shape[0];
      net->AddConv("dw" + s, net->last(), c, 3, static_cast<int>(c));
      net->AddConv("pw" + s, net->last(), m.channels[b], 1, 1);
      at = net->last();
    }
    net->AddPool("gap", at, NodeType::kGap);
    int gap = net->last();
    for (const HeadInfo& h : heads) {
      add_head(gap, h.name + "/", static_cast<int64_t>(h.labels.size()));
    }
  }
  return net;
}

}  // namespace

class TrainedModel {
 public:
  Net net{nullptr};
  float input_scale = 1.0f;
  std::vector<int64_t> chw;
};

namespace {

// Samples `indices` as an NCHW float tensor of the network's input units.
torch::Tensor InputTensor(const data::Dataset& d,
                          const std::vector<size_t>& indices, float scale) {
  int64_t n = static_cast<int64_t>(indices.size());
  int64_t e = static_cast<int64_t>(d.item_elements());
  torch::Tensor t = torch::empty({n, e}, torch::kFloat32);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    size_t s = indices[static_cast<size_t>(i)];
    float* row = p + i * e;
    if (d.feature_type == data::FeatureType::kUint8) {
      const uint8_t* src = d.u8.data() + s * static_cast<size_t>(e);
      for (int64_t j = 0; j < e; ++j) row[j] = src[j] * scale;
    } else {
      const float* src = d.f32.data() + s * static_cast<size_t>(e);
      for (int64_t j = 0; j < e; ++j) row[j] = src[j] * scale;
    }
  }
  if (d.item_shape.size() == 3) {
    t = t.view({n, d.item_shape[0], d.item_shape[1], d.item_shape[2]})
            .permute({0, 3, 1, 2})
            .contiguous();
  } else {
    t = t.view({n, e, 1, 1});
  }
  return t;
}

float InputScale(const data::Dataset& d) {
  if (d.feature_type != data::FeatureType::kUint8) return 1.0f;
  if (d.name == "digits") return 1.0f / data::kDigitsPixelScale;
  return 1.0f / 255.0f;
}

// Folded conv weight (OIHW) and bias of a conv+BN node, eval semantics.
std::pair<torch::Tensor, torch::Tensor> FoldConv(const Node& n) {
  torch::NoGradGuard no_grad;
  torch::Tensor w = n.conv->weight.detach();
  torch::Tensor gamma = n.bn->weight.detach();
  torch::Tensor beta = n.bn->bias.detach();
  torch::Tensor mean = n.bn->running_mean.detach();
  torch::Tensor var = n.bn->running_var.detach();
  double eps = n.bn->options.eps();
  torch::Tensor scale = gamma / torch::sqrt(var + eps);
  torch::Tensor fw = w * scale.view({-1, 1, 1, 1});
  torch::Tensor fb = beta - mean * scale;
  return {fw.contiguous(), fb.contiguous()};
}

struct Folded {
  std::vector<torch::Tensor> w, b;  // per node (undefined for pools)
};

Folded FoldAll(NetImpl& net) {
  Folded f;
  for (const Node& n : net.nodes) {
    if (n.type == NodeType::kConv) {
      auto wb = FoldConv(n);
      f.w.push_back(wb.first);
      f.b.push_back(wb.second);
    } else if (n.type == NodeType::kLinear) {
      f.w.push_back(n.linear->weight.detach().contiguous());
      f.b.push_back(n.linear->bias.detach().contiguous());
    } else {
      f.w.emplace_back();
      f.b.emplace_back();
    }
  }
  return f;
}

// Forward through the folded parameters: what the exported model computes.
std::vector<torch::Tensor> ForwardFolded(NetImpl& net, const Folded& f,
                                         const torch::Tensor& x) {
  return WalkNodes(net.nodes, x, [&](size_t i, const torch::Tensor& in) {
    const Node& n = net.nodes[i];
    return n.type == NodeType::kConv
               ? torch::conv2d(in, f.w[i], f.b[i], 1, n.pad, 1, n.groups)
               : torch::linear(in.flatten(1), f.w[i], f.b[i]);
  });
}

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous().to(torch::kFloat32);
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

// Feeds a tensor's values to a range observer (pass 1 or 2).
void ObserveTensor(const torch::Tensor& t, RangeObserver* observer,
                   bool again) {
  torch::Tensor c = t.contiguous().to(torch::kFloat32);
  const float* p = c.data_ptr<float>();
  const size_t n = static_cast<size_t>(c.numel());
  if (again) {
    observer->ObserveAgain(p, n);
  } else {
    observer->Observe(p, n);
  }
}

std::vector<size_t> IndicesOf(const std::vector<data::Split>& splits,
                              data::Split which) {
  std::vector<size_t> out;
  for (size_t i = 0; i < splits.size(); ++i)
    if (splits[i] == which) out.push_back(i);
  return out;
}

// Exports `tm` (eval mode) to result->model, calibrating on `calib`
// (range_calibration.h). False and *error when a range cannot be
// calibrated (non-finite activations: a diverged network).
bool Export(TrainedModel& tm, const data::Dataset& d,
            const std::vector<HeadInfo>& heads,
            const std::vector<size_t>& calib, const CalibrationParams& cal,
            FloatModel* model, std::string* error) {
  torch::NoGradGuard no_grad;
  NetImpl& net = *tm.net;
  net.eval();
  Folded f = FoldAll(net);
  *model = FloatModel();
  model->input_shape = d.item_shape;
  model->uint8_input = d.feature_type == data::FeatureType::kUint8;
  model->input_scale_real = tm.input_scale;

  // Calibration. Pass 1 streams every batch through the observers; a
  // method that needs a second pass (kl: a histogram over pass 1's range)
  // gets the kept outputs again.
  RangeObserver input_observer(cal);
  std::vector<RangeObserver> observers(net.nodes.size(), RangeObserver(cal));
  std::vector<torch::Tensor> kept_inputs;
  std::vector<std::vector<torch::Tensor>> kept(net.nodes.size());
  const bool keep = cal.method == CalibrationMethod::kKl;
  const size_t kBatch = 256;
  for (size_t s = 0; s < calib.size(); s += kBatch) {
    std::vector<size_t> idx(
        calib.begin() + static_cast<std::ptrdiff_t>(s),
        calib.begin() +
            static_cast<std::ptrdiff_t>(std::min(calib.size(), s + kBatch)));
    torch::Tensor x = InputTensor(d, idx, tm.input_scale);
    std::vector<torch::Tensor> y = ForwardFolded(net, f, x);
    ObserveTensor(x, &input_observer, false);
    for (size_t i = 0; i < y.size(); ++i)
      ObserveTensor(y[i], &observers[i], false);
    if (keep) {
      kept_inputs.push_back(x);
      for (size_t i = 0; i < y.size(); ++i) kept[i].push_back(y[i]);
    }
  }
  auto reduce = [&](RangeObserver& observer,
                    const std::vector<torch::Tensor>& parts,
                    const std::string& what, Range* range) {
    if (observer.NeedsSecondPass()) {
      for (const torch::Tensor& t : parts) ObserveTensor(t, &observer, true);
    }
    if (observer.Reduce(range, error)) return true;
    *error = "calibration of " + what + ": " + *error;
    return false;
  };
  if (!reduce(input_observer, kept_inputs, "the input", &model->input))
    return false;
  kept_inputs.clear();

  for (size_t i = 0; i < net.nodes.size(); ++i) {
    const Node& n = net.nodes[i];
    FloatLayer L;
    L.name = n.name;
    L.input = n.input;
    L.activation = n.relu ? Activation::kRelu : Activation::kNone;
    switch (n.type) {
      case NodeType::kConv: {
        L.kind = LayerKind::kConv2D;
        torch::Tensor w = f.w[i].permute({0, 2, 3, 1}).contiguous();  // OHWI
        L.weights = ToVector(w);
        for (int64_t s : w.sizes())
          L.weight_shape.push_back(static_cast<int32_t>(s));
        L.bias = ToVector(f.b[i]);
        L.conv.pad_top = L.conv.pad_left = L.conv.pad_bottom =
            L.conv.pad_right = n.pad;
        L.conv.groups = n.groups;
        break;
      }
      case NodeType::kMaxPool:
        L.kind = LayerKind::kMaxPool2D;
        L.pool.filter_h = L.pool.filter_w = 2;
        L.pool.stride_h = L.pool.stride_w = 2;
        break;
      case NodeType::kGap:
        L.kind = LayerKind::kGlobalAveragePool;
        break;
      case NodeType::kLinear: {
        L.kind = LayerKind::kFullyConnected;
        torch::Tensor w = f.w[i];
        const std::vector<int64_t>& in = net.Shape(n.input);
        bool spatial_input =
            n.input >= 0 ? in.size() == 3 : d.item_shape.size() == 3;
        if (spatial_input) {
          // torch flattens C,H,W; Kiln H,W,C.
          int64_t N = w.size(0), C = in[0], H = in[1], W = in[2];
          w = w.view({N, C, H, W}).permute({0, 2, 3, 1}).reshape({N, -1});
        }
        L.weights = ToVector(w);
        L.weight_shape = {static_cast<int32_t>(w.size(0)),
                          static_cast<int32_t>(w.size(1))};
        L.bias = ToVector(f.b[i]);
        break;
      }
    }
    if (!reduce(observers[i], kept[i], "layer '" + n.name + "'", &L.output))
      return false;
    kept[i].clear();
    model->layers.push_back(std::move(L));
  }
  for (size_t h = 0; h < heads.size(); ++h) {
    FloatHead fh;
    fh.name = heads[h].name;
    fh.layer = net.heads[h];
    fh.labels = heads[h].labels;
    model->heads.push_back(fh);
  }
  return true;
}

bool CheckInputs(const TrainParams& params, const data::Dataset& d,
                 const std::vector<data::Split>& splits, std::string* error) {
  if (d.task != data::Task::kClassification || d.class_names.empty()) {
    *error = "train: only classification datasets are supported";
    return false;
  }
  if (splits.size() != d.size()) {
    *error = "train: one split per sample expected";
    return false;
  }
  if (params.model.kind != ModelKind::kMlp && d.item_shape.size() != 3) {
    *error = "model.kind: cnn/multitask need image samples (HxWxC)";
    return false;
  }
  const AugmentationParams& aug = params.training.augmentation;
  if (d.item_shape.size() != 3 && (aug.hflip || aug.max_shift_pixels > 0)) {
    *error =
        "training.augmentation: hflip and max_shift_pixels need image samples "
        "(HxWxC), not feature vectors";
    return false;
  }
  return true;
}

// Sets up everything up to (not including) training.
bool Setup(const TrainParams& params, const data::Dataset& d,
           const std::vector<data::Split>& splits, std::vector<HeadInfo>* heads,
           std::shared_ptr<TrainedModel>* tm, std::string* error) {
  if (!CheckInputs(params, d, splits, error)) return false;
  if (!ResolveHeads(params, d, heads, error)) return false;
  torch::set_num_threads(params.training.threads);
  torch::manual_seed(params.training.seed);
  auto m = std::make_shared<TrainedModel>();
  m->input_scale = InputScale(d);
  if (d.item_shape.size() == 3) {
    m->chw = {d.item_shape[2], d.item_shape[0], d.item_shape[1]};
  } else {
    m->chw = {static_cast<int64_t>(d.item_elements()), 1, 1};
  }
  m->net = BuildNet(params, m->chw, *heads);
  *tm = m;
  return true;
}

std::vector<size_t> CalibrationIndices(const TrainParams& params,
                                       const std::vector<data::Split>& splits) {
  std::vector<size_t> train = IndicesOf(splits, data::Split::kTrain);
  std::mt19937_64 rng(params.training.seed ^ 0x6b696c6e63616cULL);
  std::shuffle(train.begin(), train.end(), rng);
  if (train.size() > static_cast<size_t>(params.calibration.samples))
    train.resize(static_cast<size_t>(params.calibration.samples));
  std::sort(train.begin(), train.end());
  return train;
}

bool Finish(const TrainParams& params, const data::Dataset& d,
            const std::vector<data::Split>& splits,
            const std::vector<HeadInfo>& heads,
            std::shared_ptr<TrainedModel> tm, TrainResult* result,
            std::string* error) {
  if (!Export(*tm, d, heads, CalibrationIndices(params, splits),
              params.calibration, &result->model, error)) {
    return false;
  }
  result->params_json = TrainParamsJson(params);
  result->head_class_of.clear();
  for (const HeadInfo& h : heads) result->head_class_of.push_back(h.class_of);
  result->trained = tm;
  return true;
}

// Applies augmentation in place to an NCHW batch (network input units).
// pixel_max: the largest pixel value in network units for image inputs,
// whose brightness/noise results are clamped to [0, pixel_max]; nullopt for
// feature vectors, which are not bounded.
void Augment(torch::Tensor& x, const AugmentationParams& a,
             std::mt19937_64& rng, std::optional<float> pixel_max) {
  int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  if (a.hflip) {
    for (int64_t i = 0; i < n; ++i)
      if (u01(rng) < 0.5f) x[i] = x[i].flip({2});
  }
  if (a.max_shift_pixels > 0) {
    std::uniform_int_distribution<int> shift(-a.max_shift_pixels,
                                             a.max_shift_pixels);
    for (int64_t i = 0; i < n; ++i) {
      int dy = shift(rng), dx = shift(rng);
      if (dy == 0 && dx == 0) continue;
      torch::Tensor src = x[i].clone();
      torch::Tensor dst = torch::zeros_like(src);
      int64_t y0 = std::max<int64_t>(0, dy), y1 = std::min<int64_t>(h, h + dy);
      int64_t x0 = std::max<int64_t>(0, dx), x1 = std::min<int64_t>(w, w + dx);
      if (y1 > y0 && x1 > x0) {
        dst.slice(1, y0, y1).slice(2, x0, x1).copy_(
            src.slice(1, y0 - dy, y1 - dy).slice(2, x0 - dx, x1 - dx));
      }
      x[i] = dst;
    }
  }
  if (a.brightness > 0) {
    std::uniform_real_distribution<float> b(-a.brightness, a.brightness);
    std::vector<float> f(static_cast<size_t>(n));
    for (float& v : f) v = 1.0f + b(rng);
    x.mul_(torch::from_blob(f.data(), {n, 1, 1, 1}, torch::kFloat32).clone());
  }
  if (a.noise_std > 0) {
    std::normal_distribution<float> g(0.0f, a.noise_std);
    torch::Tensor noise = torch::empty_like(x);
    float* p = noise.data_ptr<float>();
    for (int64_t i = 0; i < noise.numel(); ++i) p[i] = g(rng);
    x.add_(noise);
  }
  if ((a.brightness > 0 || a.noise_std > 0) && pixel_max.has_value()) {
    x.clamp_(0.0f, *pixel_max);
  }
}

// Per-sample loss (before class weights), targets as class ids.
torch::Tensor SampleLoss(const torch::Tensor& logits,
                         const torch::Tensor& target, const TrainingParams& t) {
  int64_t k = logits.size(1);
  torch::Tensor logp = torch::log_softmax(logits, 1);
  torch::Tensor q = torch::one_hot(target, k).to(torch::kFloat32);
  if (t.label_smoothing > 0)
    q = q * (1.0 - t.label_smoothing) + t.label_smoothing / k;
  if (t.loss == LossKind::kFocal) {
    torch::Tensor mod = torch::pow(1.0 - logp.exp(), t.focal_gamma);
    return -(q * mod * logp).sum(1);
  }
  return -(q * logp).sum(1);
}

struct Batch {
  torch::Tensor x;
  std::vector<torch::Tensor> y;  // per head
};

// Mean loss and mean accuracy over heads on `indices` (eval mode).
std::pair<double, double> Evaluate(NetImpl& net, const data::Dataset& d,
                                   const std::vector<size_t>& indices,
                                   const std::vector<HeadInfo>& heads,
                                   const std::vector<torch::Tensor>& weights,
                                   const TrainingParams& t, float scale) {
  torch::NoGradGuard no_grad;
  net.eval();
  double loss = 0, correct = 0;
  const size_t kBatch = 512;
  for (size_t s = 0; s < indices.size(); s += kBatch) {
    std::vector<size_t> idx(
        indices.begin() + static_cast<std::ptrdiff_t>(s),
        indices.begin() +
            static_cast<std::ptrdiff_t>(std::min(indices.size(), s + kBatch)));
    torch::Tensor x = InputTensor(d, idx, scale);
    std::vector<torch::Tensor> logits = net.Forward(x);
    for (size_t h = 0; h < heads.size(); ++h) {
      std::vector<int64_t> y;
      for (size_t i : idx)
        y.push_back(heads[h].class_of[static_cast<size_t>(d.labels[i])]);
      torch::Tensor yt = torch::tensor(y, torch::kInt64);
      torch::Tensor l = SampleLoss(logits[h], yt, t) * weights[h].index({yt});
      loss += l.sum().item<double>();
      correct += logits[h].argmax(1).eq(yt).sum().item<double>();
    }
  }
  double denom = static_cast<double>(indices.size() * heads.size());
  return {loss / denom, correct / denom};
}

}  // namespace

bool BuildUntrainedModel(const TrainParams& params, const data::Dataset& d,
                         const std::vector<data::Split>& splits,
                         bool randomize_batchnorm, TrainResult* result,
                         std::string* error) {
  std::vector<HeadInfo> heads;
  std::shared_ptr<TrainedModel> tm;
  if (!Setup(params, d, splits, &heads, &tm, error)) return false;
  if (randomize_batchnorm) {
    torch::NoGradGuard no_grad;
    for (Node& n : tm->net->nodes) {
      if (n.type != NodeType::kConv) continue;
      int64_t c = n.bn->weight.size(0);
      n.bn->weight.copy_(torch::rand({c}) * 1.5 + 0.25);
      n.bn->bias.copy_(torch::randn({c}) * 0.5);
      n.bn->running_mean.copy_(torch::randn({c}) * 0.3);
      n.bn->running_var.copy_(torch::rand({c}) * 2.0 + 0.1);
    }
  }
  tm->net->eval();
  *result = TrainResult();
  return Finish(params, d, splits, heads, tm, result, error);
}

namespace {

// Every parameter, then every buffer (BatchNorm statistics), in module
// order: the state a checkpoint holds and the best epoch's snapshot.
std::vector<torch::Tensor> StateTensors(NetImpl& net) {
  std::vector<torch::Tensor> s;
  for (auto& p : net.parameters()) s.push_back(p);
  for (auto& b : net.buffers()) s.push_back(b);
  return s;
}

constexpr int64_t kCheckpointMagic = 0x6b696c6e636b7074LL;  // "kilnckpt"
constexpr int64_t kCheckpointVersion = 1;

// Checkpoint: [header int64 {magic, version, epoch, tensor count},
// valid accuracy float64 {1}, state tensors...], written with torch::save
// to path.tmp and renamed over path.
bool SaveCheckpoint(const std::string& path,
                    const std::vector<torch::Tensor>& state, int32_t epoch,
                    double valid_accuracy, std::string* error) {
  std::vector<torch::Tensor> all;
  all.push_back(torch::tensor(
      std::vector<int64_t>{kCheckpointMagic, kCheckpointVersion, epoch,
                           static_cast<int64_t>(state.size())},
      torch::kInt64));
  all.push_back(
      torch::tensor(std::vector<double>{valid_accuracy}, torch::kFloat64));
  all.insert(all.end(), state.begin(), state.end());
  const std::string tmp = path + ".tmp";
  try {
    torch::save(all, tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    *error = "checkpoint: cannot write " + tmp + ": " + e.what();
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    *error = "checkpoint: cannot rename " + tmp + " to " + path + ": " + why;
    return false;
  }
  return true;
}

// The teacher of a distillation, ready to give soft targets.
struct Teacher {
  std::shared_ptr<TrainedModel> tm;
  double alpha = 0.0;
  double temperature = 1.0;
};

bool SameHeads(const std::vector<HeadInfo>& a, const std::vector<HeadInfo>& b) {
  if (a.size() != b.size()) return false;
  for (size_t h = 0; h < a.size(); ++h) {
    if (a[h].name != b[h].name || a[h].labels != b[h].labels ||
        a[h].class_of != b[h].class_of)
      return false;
  }
  return true;
}

// Trains tm->net (fresh from Setup) on the train split and leaves the best
// epoch's weights in it (eval mode). `tag` prefixes the progress lines.
bool TrainNet(const TrainParams& params, const data::Dataset& d,
              const std::vector<data::Split>& splits,
              const std::vector<HeadInfo>& heads, TrainedModel* tm,
              const Teacher* teacher, const TrainHooks* hooks, bool quiet,
              const char* tag, TrainMetrics* metrics, std::string* error) {
  const TrainingParams& t = params.training;
  NetImpl& net = *tm->net;
  std::vector<size_t> train = IndicesOf(splits, data::Split::kTrain);
  std::vector<size_t> valid = IndicesOf(splits, data::Split::kValid);
  if (train.empty()) {
    *error = "train: the train split is empty";
    return false;
  }
  metrics->train_samples = train.size();
  metrics->valid_samples = valid.size();
  const std::string checkpoint =
      hooks != nullptr ? hooks->checkpoint_path : std::string();

  // Class weights per head (on the train split).
  std::vector<torch::Tensor> weights;
  for (const HeadInfo& h : heads) {
    int64_t k = static_cast<int64_t>(h.labels.size());
    std::vector<float> w(static_cast<size_t>(k), 1.0f);
    if (t.class_weights == ClassWeights::kBalanced) {
      std::vector<double> count(static_cast<size_t>(k), 0.0);
      for (size_t i : train)
        count[static_cast<size_t>(
            h.class_of[static_cast<size_t>(d.labels[i])])] += 1;
      for (int64_t c = 0; c < k; ++c) {
        double n = count[static_cast<size_t>(c)];
        w[static_cast<size_t>(c)] =
            n > 0 ? static_cast<float>(train.size() / (k * n)) : 0.0f;
      }
    }
    weights.push_back(torch::tensor(w));
  }

  // The whole train split as one tensor (network input units).
  torch::Tensor train_x = InputTensor(d, train, tm->input_scale);
  std::vector<torch::Tensor> train_y;
  for (const HeadInfo& h : heads) {
    std::vector<int64_t> y;
    for (size_t i : train)
      y.push_back(h.class_of[static_cast<size_t>(d.labels[i])]);
    train_y.push_back(torch::tensor(y, torch::kInt64));
  }
  std::optional<float> pixel_max;
  if (d.feature_type == data::FeatureType::kUint8) {
    pixel_max = d.name == "digits" ? 1.0f : 255.0f * tm->input_scale;
  }

  torch::optim::AdamW opt(
      net.parameters(),
      torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay));
  const int64_t bs = t.batch_size;
  const int64_t n = static_cast<int64_t>(train.size());
  const int64_t steps_per_epoch = (n + bs - 1) / bs;
  const double total_steps = static_cast<double>(steps_per_epoch) * t.epochs;
  const double warm_steps = t.warmup_epochs * steps_per_epoch;
  auto lr_at = [&](int64_t step) {
    double s = static_cast<double>(step);
    if (s < warm_steps) return t.lr * (s + 1) / warm_steps;
    double span = std::max(1.0, total_steps - warm_steps);
    double p = std::min(1.0, (s - warm_steps) / span);
    return t.lr * 0.5 * (1.0 + std::cos(M_PI * p));
  };
  if (teacher != nullptr) teacher->tm->net->eval();
  const double temperature = teacher != nullptr ? teacher->temperature : 1.0;
  const double alpha = teacher != nullptr ? teacher->alpha : 0.0;

  std::mt19937_64 rng(t.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<torch::Tensor> best_state;
  auto snapshot = [&]() {
    std::vector<torch::Tensor> s;
    for (const torch::Tensor& v : StateTensors(net))
      s.push_back(v.detach().clone());
    return s;
  };
  double best_acc = -1;
  int32_t since_best = 0;
  int64_t step = 0;
  auto t_start = std::chrono::steady_clock::now();
  for (int32_t epoch = 1; epoch <= t.epochs; ++epoch) {
    auto e_start = std::chrono::steady_clock::now();
    net.train();
    std::shuffle(order.begin(), order.end(), rng);
    torch::Tensor perm = torch::tensor(order, torch::kInt64);
    double loss_sum = 0;
    double lr = t.lr;
    for (int64_t b = 0; b < steps_per_epoch; ++b) {
      int64_t lo = b * bs, hi = std::min(n, lo + bs);
      if (hi - lo < 2 && n >= 2) continue;  // BatchNorm needs 2 samples
      torch::Tensor idx = perm.slice(0, lo, hi);
      torch::Tensor x = train_x.index_select(0, idx);
      Augment(x, t.augmentation, rng, pixel_max);
      lr = lr_at(step++);
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      // The teacher's tempered log-probabilities on the same batch.
      std::vector<torch::Tensor> teacher_logp;
      if (teacher != nullptr) {
        torch::NoGradGuard no_grad;
        for (const torch::Tensor& l : teacher->tm->net->Forward(x))
          teacher_logp.push_back(torch::log_softmax(l / temperature, 1));
      }
      opt.zero_grad();
      std::vector<torch::Tensor> logits = net.Forward(x);
      torch::Tensor loss = torch::zeros({});
      for (size_t h = 0; h < heads.size(); ++h) {
        torch::Tensor y = train_y[h].index_select(0, idx);
        torch::Tensor w = weights[h].index({y});
        torch::Tensor task =
            (SampleLoss(logits[h], y, t) * w).sum() / w.sum().clamp_min(1e-12);
        if (teacher == nullptr) {
          loss = loss + task;
          continue;
        }
        // KL(teacher_T || student_T), mean over the batch, times T^2 so the
        // soft gradients keep their scale as T changes (Hinton et al.).
        const torch::Tensor& tl = teacher_logp[h];
        torch::Tensor kl =
            (tl.exp() * (tl - torch::log_softmax(logits[h] / temperature, 1)))
                .sum(1)
                .mean();
        loss = loss + alpha * temperature * temperature * kl +
               (1.0 - alpha) * task;
      }
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(hi - lo);
    }
    EpochMetrics em;
    em.epoch = epoch;
    em.train_loss = loss_sum / static_cast<double>(n) / heads.size();
    em.lr = lr;
    if (!valid.empty()) {
      auto vl = Evaluate(net, d, valid, heads, weights, t, tm->input_scale);
      em.valid_loss = vl.first;
      em.valid_accuracy = vl.second;
    } else {
      em.valid_loss = em.valid_accuracy = std::nan("");
    }
    em.seconds = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - e_start)
                     .count();
    metrics->epochs.push_back(em);
    // Without valid samples the last epoch is the best.
    bool better = valid.empty() || em.valid_accuracy > best_acc;
    if (better) {
      if (!valid.empty()) best_acc = em.valid_accuracy;
      metrics->best_epoch = epoch;
      best_state = snapshot();
      since_best = 0;
      if (!checkpoint.empty() && !SaveCheckpoint(checkpoint, best_state, epoch,
                                                 em.valid_accuracy, error)) {
        return false;
      }
    } else {
      ++since_best;
    }
    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - t_start)
                         .count();
    if (!quiet) {
      double eta = elapsed / epoch * (t.epochs - epoch);
      std::fprintf(stderr,
                   "[%s] epoch %d/%d  loss %.4f  valid loss %.4f  acc "
                   "%.4f  lr %.2e  %.1fs  ETA %.0fs\n",
                   tag, epoch, t.epochs, em.train_loss, em.valid_loss,
                   em.valid_accuracy, em.lr, em.seconds, eta);
    }
    if (hooks != nullptr && hooks->on_epoch && !hooks->on_epoch(em)) {
      metrics->stopped_by_hook = true;
      break;
    }
    if (t.patience > 0 && since_best >= t.patience && epoch < t.epochs) {
      metrics->stopped_early = true;
      if (!quiet)
        std::fprintf(stderr,
                     "[%s] early stop: no better valid accuracy "
                     "for %d epochs\n",
                     tag, t.patience);
      break;
    }
  }
  metrics->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start)
          .count();
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> state = StateTensors(net);
    for (size_t i = 0; i < state.size(); ++i) state[i].copy_(best_state[i]);
  }
  metrics->best_valid_accuracy =
      valid.empty()
          ? std::nan("")
          : metrics->epochs[static_cast<size_t>(metrics->best_epoch - 1)]
                .valid_accuracy;
  net.eval();
  return true;
}

// Loads, checks and trains the teacher params.distillation.teacher names.
bool TrainTeacher(const TrainParams& params, const data::Dataset& d,
                  const std::vector<data::Split>& splits,
                  const std::vector<HeadInfo>& student_heads, bool quiet,
                  Teacher* teacher, TrainMetrics* metrics,
                  std::string* teacher_json, std::string* error) {
  const std::string& path = params.distillation.teacher;
  const std::string what = "distillation.teacher: ";
  TrainParams tp;
  if (!LoadTrainParams(path, &tp, error)) {
    *error = what + *error;
    return false;
  }
  auto fail = [&](const std::string& why) {
    *error = what + path + ": " + why;
    return false;
  };
  if (!tp.distillation.teacher.empty()) {
    return fail("the teacher has a teacher of its own ('" +
                tp.distillation.teacher + "'); distillation does not chain");
  }
  if (tp.dataset != params.dataset) {
    return fail("the teacher trains on dataset '" + tp.dataset +
                "', the student on '" + params.dataset + "'");
  }
  const data::SplitOptions &a = tp.split, &b = params.split;
  if (a.train != b.train || a.valid != b.valid || a.test != b.test ||
      a.seed != b.seed || a.honour_source_splits != b.honour_source_splits) {
    return fail(
        "the teacher's split (ratios, seed, honour_source_splits) differs "
        "from the student's; both must train on the same samples");
  }
  if (tp.relabels != params.relabels) {
    return fail("the teacher's relabels ('" + tp.relabels +
                "') differ from the student's ('" + params.relabels + "')");
  }
  std::vector<HeadInfo> heads;
  std::shared_ptr<TrainedModel> tm;
  if (!Setup(tp, d, splits, &heads, &tm, error)) return fail(*error);
  if (!SameHeads(heads, student_heads)) {
    return fail(
        "the teacher's heads (names, labels, class maps) differ from the "
        "student's");
  }
  if (!TrainNet(tp, d, splits, heads, tm.get(), nullptr, nullptr, quiet,
                "teacher", metrics, error)) {
    return fail(*error);
  }
  teacher->tm = tm;
  teacher->alpha = params.distillation.alpha;
  teacher->temperature = params.distillation.temperature;
  *teacher_json = TrainParamsJson(tp);
  return true;
}

}  // namespace

bool TrainFromParams(const TrainParams& params, const data::Dataset& d,
                     const std::vector<data::Split>& splits,
                     TrainResult* result, std::string* error, bool quiet,
                     const TrainHooks* hooks) {
  *result = TrainResult();
  // The student's own checks first: a bad student fails before the
  // teacher's training.
  std::vector<HeadInfo> heads;
  if (!CheckInputs(params, d, splits, error) ||
      !ResolveHeads(params, d, &heads, error)) {
    return false;
  }
  Teacher teacher;
  TrainMetrics teacher_metrics;
  const bool distill = !params.distillation.teacher.empty();
  if (distill &&
      !TrainTeacher(params, d, splits, heads, quiet, &teacher, &teacher_metrics,
                    &result->teacher_params_json, error)) {
    return false;
  }
  // Setup seeds LibTorch with the student's seed after the teacher's
  // training: the student starts as it would without a teacher.
  std::shared_ptr<TrainedModel> tm;
  if (!Setup(params, d, splits, &heads, &tm, error)) return false;
  TrainMetrics& metrics = result->metrics;
  if (!TrainNet(params, d, splits, heads, tm.get(),
                distill ? &teacher : nullptr, hooks, quiet, "train", &metrics,
                error)) {
    return false;
  }
  if (distill) {
    metrics.teacher_valid_accuracy = teacher_metrics.best_valid_accuracy;
    metrics.teacher_seconds = teacher_metrics.seconds;
    result->teacher = teacher.tm;
  }
  return Finish(params, d, splits, heads, tm, result, error);
}

bool LoadCheckpoint(const std::string& path, const TrainParams& params,
                    const data::Dataset& d,
                    const std::vector<data::Split>& splits, TrainResult* result,
                    std::string* error) {
  *result = TrainResult();
  std::vector<HeadInfo> heads;
  std::shared_ptr<TrainedModel> tm;
  if (!Setup(params, d, splits, &heads, &tm, error)) return false;
  std::vector<torch::Tensor> all;
  try {
    torch::load(all, path);
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    *error = "checkpoint " + path + ": cannot read: " + why;
    return false;
  }
  auto fail = [&](const std::string& why) {
    *error = "checkpoint " + path + ": " + why;
    return false;
  };
  if (all.size() < 2 || all[0].scalar_type() != torch::kInt64 ||
      all[0].numel() != 4 || all[0][0].item<int64_t>() != kCheckpointMagic) {
    return fail("not a Kiln checkpoint");
  }
  if (all[0][1].item<int64_t>() != kCheckpointVersion) {
    return fail("version " + std::to_string(all[0][1].item<int64_t>()) +
                ", expected " + std::to_string(kCheckpointVersion));
  }
  const int64_t epoch = all[0][2].item<int64_t>();
  NetImpl& net = *tm->net;
  std::vector<torch::Tensor> state = StateTensors(net);
  if (all[0][3].item<int64_t>() != static_cast<int64_t>(state.size()) ||
      all.size() != state.size() + 2 || all[1].numel() != 1) {
    return fail("holds " + std::to_string(all.size() - 2) +
                " tensors, the model of the params " +
                std::to_string(state.size()) + ": another architecture");
  }
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < state.size(); ++i) {
      const torch::Tensor& src = all[i + 2];
      if (src.sizes() != state[i].sizes() ||
          src.scalar_type() != state[i].scalar_type()) {
        std::ostringstream why;
        why << "tensor " << i << " has shape " << src.sizes()
            << ", the model of the params " << state[i].sizes()
            << ": another architecture";
        return fail(why.str());
      }
      state[i].copy_(src);
    }
  }
  net.eval();
  TrainMetrics& m = result->metrics;
  m.best_epoch = static_cast<int32_t>(epoch);
  m.best_valid_accuracy = all[1].to(torch::kFloat64).item<double>();
  m.train_samples = IndicesOf(splits, data::Split::kTrain).size();
  m.valid_samples = IndicesOf(splits, data::Split::kValid).size();
  return Finish(params, d, splits, heads, tm, result, error);
}

bool PredictFloat(const TrainedModel& model, const data::Dataset& d,
                  const std::vector<size_t>& indices,
                  std::vector<std::vector<float>>* logits_per_head,
                  std::string* error) {
  std::vector<int64_t> chw =
      d.item_shape.size() == 3
          ? std::vector<int64_t>{d.item_shape[2], d.item_shape[0],
                                 d.item_shape[1]}
          : std::vector<int64_t>{static_cast<int64_t>(d.item_elements()), 1, 1};
  if (chw != model.chw) {
    *error = "PredictFloat: the dataset's item shape differs from the model's";
    return false;
  }
  for (size_t i : indices) {
    if (i >= d.size()) {
      *error = "PredictFloat: sample index out of range";
      return false;
    }
  }
  torch::NoGradGuard no_grad;
  NetImpl& net = *model.net.ptr();
  net.eval();
  logits_per_head->assign(net.heads.size(), {});
  const size_t kBatch = 512;
  for (size_t s = 0; s < indices.size(); s += kBatch) {
    std::vector<size_t> idx(
        indices.begin() + static_cast<std::ptrdiff_t>(s),
        indices.begin() +
            static_cast<std::ptrdiff_t>(std::min(indices.size(), s + kBatch)));
    std::vector<torch::Tensor> logits =
        net.Forward(InputTensor(d, idx, model.input_scale));
    for (size_t h = 0; h < logits.size(); ++h) {
      std::vector<float> v = ToVector(logits[h]);
      (*logits_per_head)[h].insert((*logits_per_head)[h].end(), v.begin(),
                                   v.end());
    }
  }
  return true;
}

}  // namespace train
}  // namespace kiln
