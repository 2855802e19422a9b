// A deliberately naive evaluator of the few ONNX ops the Kiln exporter
// writes (Conv, Relu, Clip, MaxPool, AveragePool, GlobalAveragePool,
// Flatten, Gemm, Identity), straight from the ONNX operator specs, NCHW
// loops and doubles. Test-only: it lets the export tests run an exported
// model without ONNX Runtime and compare it with train::FloatInterpreter.
// Anything it does not know fails the test (ADD_FAILURE), never guesses.
#ifndef KILN_TESTS_ONNX_ONNX_TEST_EVALUATOR_H_
#define KILN_TESTS_ONNX_ONNX_TEST_EVALUATOR_H_

#include <gtest/gtest.h>
#include <math.h>
#include <string.h>

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"

namespace kiln {
namespace onnx_test {

struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

inline size_t Count(const std::vector<int64_t>& dims) {
  size_t n = 1;
  for (int64_t d : dims) n *= static_cast<size_t>(d);
  return n;
}

// FLOAT initializers (raw_data little-endian, or float_data).
inline Tensor FromProto(const onnx::TensorProto& t) {
  Tensor out;
  out.dims.assign(t.dims().begin(), t.dims().end());
  EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT) << t.name();
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    out.data.resize(raw.size() / 4);
    for (size_t i = 0; i < out.data.size(); ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) {
        bits |= uint32_t(static_cast<uint8_t>(raw[i * 4 + b])) << (8 * b);
      }
      memcpy(&out.data[i], &bits, 4);
    }
  } else {
    out.data.assign(t.float_data().begin(), t.float_data().end());
  }
  EXPECT_EQ(out.data.size(), Count(out.dims)) << t.name();
  return out;
}

inline const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n,
                                            const std::string& name) {
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

inline int64_t IntAttr(const onnx::NodeProto& n, const std::string& name,
                       int64_t fallback) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a ? a->i() : fallback;
}

inline std::vector<int64_t> IntsAttr(const onnx::NodeProto& n,
                                     const std::string& name,
                                     std::vector<int64_t> fallback) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  if (!a) return fallback;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

// Conv, MaxPool, AveragePool over NCHW with ONNX's explicit pads
// [top, left, bottom, right].
struct Window2D {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int64_t OutH(int64_t h) const {
    return (h + pt + pb - (dh * (kh - 1) + 1)) / sh + 1;
  }
  int64_t OutW(int64_t w) const {
    return (w + pl + pr - (dw * (kw - 1) + 1)) / sw + 1;
  }
};

inline Window2D WindowOf(const onnx::NodeProto& n,
                         const std::vector<int64_t>& kernel) {
  const std::vector<int64_t> k = IntsAttr(n, "kernel_shape", kernel);
  const std::vector<int64_t> s = IntsAttr(n, "strides", {1, 1});
  const std::vector<int64_t> d = IntsAttr(n, "dilations", {1, 1});
  const std::vector<int64_t> p = IntsAttr(n, "pads", {0, 0, 0, 0});
  EXPECT_EQ(IntsAttr(n, "auto_pad", {}).size(), 0u);
  return {k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], p[2], p[3]};
}

inline Tensor Conv(const onnx::NodeProto& n, const Tensor& x, const Tensor& w,
                   const Tensor* b) {
  const int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  const int64_t O = w.dims[0], I = w.dims[1];
  const Window2D win = WindowOf(n, {w.dims[2], w.dims[3]});
  const int64_t group = IntAttr(n, "group", 1);
  EXPECT_EQ(I * group, C);
  const int64_t OH = win.OutH(H), OW = win.OutW(W);
  Tensor y{{N, O, OH, OW}, {}};
  y.data.resize(Count(y.dims));
  const int64_t opg = O / group;
  for (int64_t b0 = 0; b0 < N; ++b0)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = b ? b->data[o] : 0.0;
          const int64_t g = o / opg;
          for (int64_t i = 0; i < I; ++i)
            for (int64_t ky = 0; ky < win.kh; ++ky)
              for (int64_t kx = 0; kx < win.kw; ++kx) {
                const int64_t iy = oy * win.sh - win.pt + ky * win.dh;
                const int64_t ix = ox * win.sw - win.pl + kx * win.dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const int64_t c = g * I + i;
                acc +=
                    double(x.data[((b0 * C + c) * H + iy) * W + ix]) *
                    double(w.data[((o * I + i) * win.kh + ky) * win.kw + kx]);
              }
          y.data[((b0 * O + o) * OH + oy) * OW + ox] = float(acc);
        }
  return y;
}

inline Tensor Pool(const onnx::NodeProto& n, const Tensor& x, bool is_max) {
  const int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  const Window2D win = WindowOf(n, {});
  const bool include_pad = IntAttr(n, "count_include_pad", 0) != 0;
  EXPECT_EQ(IntAttr(n, "ceil_mode", 0), 0);
  const int64_t OH = win.OutH(H), OW = win.OutW(W);
  Tensor y{{N, C, OH, OW}, {}};
  y.data.resize(Count(y.dims));
  for (int64_t b0 = 0; b0 < N; ++b0)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t count = 0;
          for (int64_t ky = 0; ky < win.kh; ++ky)
            for (int64_t kx = 0; kx < win.kw; ++kx) {
              const int64_t iy = oy * win.sh - win.pt + ky;
              const int64_t ix = ox * win.sw - win.pl + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                count += include_pad;
                continue;
              }
              const double v = x.data[((b0 * C + c) * H + iy) * W + ix];
              acc = is_max ? std::max(acc, v) : acc + v;
              ++count;
            }
          y.data[((b0 * C + c) * OH + oy) * OW + ox] =
              float(is_max ? acc : acc / double(count));
        }
  return y;
}

inline Tensor Gemm(const onnx::NodeProto& n, const Tensor& a, const Tensor& b,
                   const Tensor* c) {
  EXPECT_EQ(IntAttr(n, "transA", 0), 0);
  const bool trans_b = IntAttr(n, "transB", 0) != 0;
  const int64_t M = a.dims[0], K = a.dims[1];
  const int64_t N = trans_b ? b.dims[0] : b.dims[1];
  EXPECT_EQ(trans_b ? b.dims[1] : b.dims[0], K);
  Tensor y{{M, N}, std::vector<float>(size_t(M * N))};
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j) {
      double acc = c ? c->data[c->data.size() == size_t(N) ? j : 0] : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const float bv = trans_b ? b.data[j * K + k] : b.data[k * N + j];
        acc += double(a.data[m * K + k]) * double(bv);
      }
      y.data[m * N + j] = float(acc);
    }
  return y;
}

// Runs the graph on `inputs` (by name); returns every tensor by name.
inline std::map<std::string, Tensor> Evaluate(
    const onnx::ModelProto& model, std::map<std::string, Tensor> inputs) {
  std::map<std::string, Tensor> t = std::move(inputs);
  for (const onnx::TensorProto& init : model.graph().initializer()) {
    t[init.name()] = FromProto(init);
  }
  auto in = [&](const onnx::NodeProto& n, int i) -> const Tensor* {
    if (i >= n.input_size() || n.input(i).empty()) return nullptr;
    auto it = t.find(n.input(i));
    if (it == t.end()) {
      ADD_FAILURE() << n.op_type() << " reads unknown tensor " << n.input(i);
      return nullptr;
    }
    return &it->second;
  };
  for (const onnx::NodeProto& n : model.graph().node()) {
    const Tensor* x = in(n, 0);
    if (!x) return t;
    Tensor y;
    const std::string& op = n.op_type();
    if (op == "Conv") {
      y = Conv(n, *x, *in(n, 1), in(n, 2));
    } else if (op == "Relu") {
      y = *x;
      for (float& v : y.data) v = std::max(v, 0.0f);
    } else if (op == "Clip") {
      const float lo = in(n, 1) ? in(n, 1)->data.at(0) : -INFINITY;
      const float hi = in(n, 2) ? in(n, 2)->data.at(0) : INFINITY;
      y = *x;
      for (float& v : y.data) v = std::min(std::max(v, lo), hi);
    } else if (op == "MaxPool" || op == "AveragePool") {
      y = Pool(n, *x, op == "MaxPool");
    } else if (op == "GlobalAveragePool") {
      const int64_t N = x->dims[0], C = x->dims[1],
                    HW = x->dims[2] * x->dims[3];
      y = Tensor{{N, C, 1, 1}, std::vector<float>(size_t(N * C))};
      for (int64_t i = 0; i < N * C; ++i) {
        double acc = 0;
        for (int64_t p = 0; p < HW; ++p) acc += x->data[i * HW + p];
        y.data[i] = float(acc / double(HW));
      }
    } else if (op == "Flatten") {
      const int64_t axis = IntAttr(n, "axis", 1);
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x->dims[d];
      y = Tensor{{outer, int64_t(x->data.size()) / outer}, x->data};
    } else if (op == "Gemm") {
      y = Gemm(n, *x, *in(n, 1), in(n, 2));
    } else if (op == "Identity") {
      y = *x;
    } else if (op == "Add") {
      // Same shapes only: the exporter never broadcasts.
      const Tensor* x2 = in(n, 1);
      if (!x2 || x2->dims != x->dims) {
        ADD_FAILURE() << "Add of differently shaped tensors";
        return t;
      }
      y = *x;
      for (size_t i = 0; i < y.data.size(); ++i) y.data[i] += x2->data[i];
    } else {
      ADD_FAILURE() << "the test evaluator does not know " << op;
      return t;
    }
    t[n.output(0)] = std::move(y);
  }
  return t;
}

}  // namespace onnx_test
}  // namespace kiln

#endif  // KILN_TESTS_ONNX_ONNX_TEST_EVALUATOR_H_
