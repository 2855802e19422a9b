// Model verification, part 2: each operator's arity, element types, shapes,
// options and requantization parameters, decoded into kernel params. After
// these checks every kernel call made by invoke stays inside its tensors and
// its int32 accumulators cannot overflow.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels/requant.h"
#include "runtime/src/internal.h"
#include "runtime/src/schema.h"

namespace kiln {
namespace rt {
namespace {

// Context for the checks of one operator; Fail() prefixes its messages.
struct OpCheck {
  kiln_context* ctx;
  uint32_t index;
  const fb::Operator* op;
  kiln_error* err;

  kiln_status Fail(kiln_status code, const char* fmt, ...) const
      __attribute__((format(printf, 3, 4))) {
    char detail[160];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof(detail), fmt, args);
    va_end(args);
    const char* name = op->name() != nullptr ? op->name()->c_str() : "";
    return SetError(err, code, "operator %u%s%s%s (%s): %s", index,
                    *name ? " '" : "", name, *name ? "'" : "",
                    fb::EnumNameOperatorOptions(op->options_type()), detail);
  }
  uint32_t input(uint32_t i) const { return op->inputs()->Get(i); }
  const TensorRt& in(uint32_t i) const { return ctx->tensors[input(i)]; }
  const TensorRt& out() const { return ctx->tensors[op->outputs()->Get(0)]; }
};

bool SameQuantization(const TensorRt& a, const TensorRt& b) {
  return memcmp(&a.scale, &b.scale, sizeof(float)) == 0 &&
         a.zero_point == b.zero_point;
}

bool SameShape(const TensorRt& a, const TensorRt& b) {
  if (a.rank != b.rank) return false;
  for (int32_t d = 0; d < a.rank; ++d) {
    if (a.dims[d] != b.dims[d]) return false;
  }
  return true;
}

kiln_status ExpectArity(const OpCheck& c, uint32_t min_inputs,
                        uint32_t max_inputs) {
  const uint32_t n = c.op->inputs()->size();
  if (n < min_inputs || n > max_inputs) {
    return c.Fail(KILN_ERR_OPERATOR, "%u inputs, expects %u..%u", n, min_inputs,
                  max_inputs);
  }
  return KILN_OK;
}

// Input i must be an activation (or constant, if `constant`) of `dtype`,
// and, when rank >= 0, of that rank.
kiln_status ExpectInput(const OpCheck& c, uint32_t i, kiln_dtype dtype,
                        bool constant, int32_t rank) {
  const TensorRt& t = c.in(i);
  if (t.constant != constant) {
    return c.Fail(KILN_ERR_OPERATOR, "input %u (tensor %u) must be %s", i,
                  c.input(i), constant ? "a constant" : "an activation");
  }
  if (t.dtype != dtype) {
    return c.Fail(KILN_ERR_DTYPE,
                  "input %u (tensor %u) has type %d, expects "
                  "%d",
                  i, c.input(i), t.dtype, dtype);
  }
  if (rank >= 0 && t.rank != rank) {
    return c.Fail(KILN_ERR_SHAPE,
                  "input %u (tensor %u) has rank %d, expects "
                  "%d",
                  i, c.input(i), t.rank, rank);
  }
  return KILN_OK;
}

kiln_status ExpectOutput(const OpCheck& c, kiln_dtype dtype, int32_t rank) {
  const TensorRt& t = c.out();
  if (t.dtype != dtype) {
    return c.Fail(KILN_ERR_DTYPE, "output has type %d, expects %d", t.dtype,
                  dtype);
  }
  if (rank >= 0 && t.rank != rank) {
    return c.Fail(KILN_ERR_SHAPE, "output has rank %d, expects %d", t.rank,
                  rank);
  }
  return KILN_OK;
}

kiln_status ExpectClamp(const OpCheck& c, int32_t lo, int32_t hi,
                        ClampParams* clamp) {
  if (lo < -128 || hi > 127 || lo > hi) {
    return c.Fail(KILN_ERR_OPERATOR, "clamp [%d, %d] not inside [-128, 127]",
                  lo, hi);
  }
  clamp->min = lo;
  clamp->max = hi;
  return KILN_OK;
}

// The stored requant table must have `count` entries, and entry i must be
// exactly what QuantizeMultiplier makes of real(i).
template <typename RealOf>
kiln_status ExpectRequant(const OpCheck& c, const fb::Requant* r,
                          uint32_t count, RealOf real, RequantParams* out) {
  if (r == nullptr || r->multiplier() == nullptr || r->shift() == nullptr ||
      r->multiplier()->size() != count || r->shift()->size() != count) {
    return c.Fail(KILN_ERR_REQUANT, "requant table missing or not %u entries",
                  count);
  }
  for (uint32_t i = 0; i < count; ++i) {
    int32_t m = 0, s = 0;
    const double value = real(i);
    if (QuantizeMultiplier(value, &m, &s) != MultiplierStatus::kOk) {
      return c.Fail(KILN_ERR_REQUANT,
                    "real multiplier %u is %g, not "
                    "representable",
                    i, value);
    }
    if (r->multiplier()->Get(i) != m || r->shift()->Get(i) != s) {
      return c.Fail(KILN_ERR_REQUANT,
                    "entry %u stores (%d, %d) but the "
                    "scales give (%d, %d)",
                    i, r->multiplier()->Get(i), r->shift()->Get(i), m, s);
    }
  }
  if (out != nullptr) {
    out->multiplier = r->multiplier()->data();
    out->shift = r->shift()->data();
    out->count = static_cast<int32_t>(count);
  }
  return KILN_OK;
}

// A single-entry requant table, decoded to plain integers.
template <typename RealOf>
kiln_status ExpectScalarRequant(const OpCheck& c, const fb::Requant* r,
                                RealOf real, int32_t* multiplier,
                                int32_t* shift) {
  RequantParams p = {nullptr, nullptr, 0};
  const kiln_status s = ExpectRequant(c, r, 1, real, &p);
  if (s != KILN_OK) return s;
  *multiplier = p.multiplier[0];
  *shift = p.shift[0];
  return KILN_OK;
}

// Per-channel weight scale c (per-tensor weights broadcast).
float WeightScale(const fb::Model* m, uint32_t tensor, uint32_t channel) {
  const auto* scales = m->tensors()->Get(tensor)->quantization()->scale();
  return scales->Get(scales->size() == 1 ? 0 : channel);
}

// Weights are symmetric (zero point 0) with one scale, or one scale per
// output channel along axis 0: the kernels index scales by output channel.
kiln_status ExpectWeightQuantization(const OpCheck& c, const fb::Model* m,
                                     uint32_t tensor, int32_t channels,
                                     uint32_t* count) {
  const fb::Quantization* q = m->tensors()->Get(tensor)->quantization();
  *count = q->scale()->size();
  if (*count != 1 && *count != static_cast<uint32_t>(channels)) {
    return c.Fail(KILN_ERR_QUANTIZATION, "weights need 1 or %d scales",
                  channels);
  }
  if (*count > 1 && q->axis() != 0) {
    return c.Fail(KILN_ERR_QUANTIZATION,
                  "per-channel weight scales must be "
                  "along axis 0, not %d",
                  q->axis());
  }
  if (q->zero_point()->Get(0) != 0) {
    return c.Fail(KILN_ERR_QUANTIZATION, "weight zero point %d, must be 0",
                  q->zero_point()->Get(0));
  }
  return KILN_OK;
}

// |bias + sum((x - zp) * w)| <= max|bias| + depth * 255 * 128 must fit int32.
kiln_status ExpectAccumulatorFits(const OpCheck& c, int64_t depth,
                                  const int32_t* bias, int32_t channels) {
  int64_t max_bias = 0;
  for (int32_t i = 0; bias != nullptr && i < channels; ++i) {
    const int64_t b = bias[i] < 0 ? -int64_t(bias[i]) : int64_t(bias[i]);
    if (b > max_bias) max_bias = b;
  }
  if (depth * 255 * 128 + max_bias > INT32_MAX) {
    return c.Fail(KILN_ERR_ACCUMULATOR,
                  "depth %lld and bias %lld can "
                  "overflow the int32 accumulator",
                  static_cast<long long>(depth),
                  static_cast<long long>(max_bias));
  }
  return KILN_OK;
}

bool InWindowRange(int32_t v, int32_t lo) { return v >= lo && v <= kMaxWindow; }

// Output extent of a sliding window, or -1 when the window does not fit.
int64_t WindowOutput(int64_t in, int64_t pad_before, int64_t pad_after,
                     int64_t extent, int64_t stride) {
  const int64_t span = in + pad_before + pad_after - extent;
  return span < 0 ? -1 : span / stride + 1;
}

// Optional bias (input 2) of Conv2D / FullyConnected.
kiln_status DecodeBias(const OpCheck& c, int32_t channels, OpRt* r) {
  r->bias = nullptr;
  if (c.op->inputs()->size() < 3) return KILN_OK;
  kiln_status s = ExpectInput(c, 2, KILN_INT32, true, 1);
  if (s != KILN_OK) return s;
  if (c.in(2).dims[0] != channels) {
    return c.Fail(KILN_ERR_SHAPE, "bias has %d entries for %d channels",
                  c.in(2).dims[0], channels);
  }
  r->bias = reinterpret_cast<const int32_t*>(c.in(2).data);
  return KILN_OK;
}

kiln_status DecodeConv2D(const OpCheck& c, const fb::Model* m, OpRt* r) {
  const fb::Conv2DOptions* o = c.op->options_as_Conv2DOptions();
  kiln_status s;
  if ((s = ExpectArity(c, 2, 3)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, 3)) ||
      (s = ExpectInput(c, 1, KILN_INT8, true, 4)) ||
      (s = ExpectOutput(c, KILN_INT8, 3))) {
    return s;
  }
  const TensorRt &in = c.in(0), &w = c.in(1), &out = c.out();
  Conv2DParams& p = r->p.conv;
  p.batch = 1;
  p.in_h = in.dims[0], p.in_w = in.dims[1], p.in_c = in.dims[2];
  p.out_c = w.dims[0], p.kernel_h = w.dims[1], p.kernel_w = w.dims[2];
  p.out_h = out.dims[0], p.out_w = out.dims[1];
  p.stride_h = o->stride_h(), p.stride_w = o->stride_w();
  p.dilation_h = o->dilation_h(), p.dilation_w = o->dilation_w();
  p.pad_top = o->pad_top(), p.pad_left = o->pad_left();
  p.groups = o->groups();
  if (!InWindowRange(p.stride_h, 1) || !InWindowRange(p.stride_w, 1) ||
      !InWindowRange(p.dilation_h, 1) || !InWindowRange(p.dilation_w, 1) ||
      !InWindowRange(p.pad_top, 0) || !InWindowRange(p.pad_left, 0) ||
      !InWindowRange(o->pad_bottom(), 0) || !InWindowRange(o->pad_right(), 0) ||
      !InWindowRange(p.kernel_h, 1) || !InWindowRange(p.kernel_w, 1)) {
    return c.Fail(KILN_ERR_OPERATOR,
                  "stride, dilation, padding or kernel "
                  "outside [0|1, %d]",
                  kMaxWindow);
  }
  if (p.groups < 1 || p.in_c % p.groups != 0 || p.out_c % p.groups != 0 ||
      w.dims[3] != p.in_c / p.groups) {
    return c.Fail(KILN_ERR_SHAPE,
                  "groups %d do not fit %d input channels, "
                  "%d output channels and filter depth %d",
                  p.groups, p.in_c, p.out_c, w.dims[3]);
  }
  const int64_t oh =
      WindowOutput(p.in_h, p.pad_top, o->pad_bottom(),
                   int64_t(p.dilation_h) * (p.kernel_h - 1) + 1, p.stride_h);
  const int64_t ow =
      WindowOutput(p.in_w, p.pad_left, o->pad_right(),
                   int64_t(p.dilation_w) * (p.kernel_w - 1) + 1, p.stride_w);
  if (oh != p.out_h || ow != p.out_w || out.dims[2] != p.out_c) {
    return c.Fail(KILN_ERR_SHAPE,
                  "output [%d, %d, %d] but the window gives "
                  "[%lld, %lld, %d]",
                  p.out_h, p.out_w, out.dims[2], static_cast<long long>(oh),
                  static_cast<long long>(ow), p.out_c);
  }
  if ((s = DecodeBias(c, p.out_c, r))) return s;
  r->filter = reinterpret_cast<const int8_t*>(w.data);
  p.input_zero_point = in.zero_point;
  p.output_zero_point = out.zero_point;
  if ((s = ExpectClamp(c, o->act_min(), o->act_max(), &p.clamp))) return s;
  const uint32_t wt = c.input(1);
  uint32_t count = 0;
  if ((s = ExpectWeightQuantization(c, m, wt, p.out_c, &count))) return s;
  auto real = [&](uint32_t ch) {
    return ConvRealMultiplier(in.scale, WeightScale(m, wt, ch), out.scale);
  };
  if ((s = ExpectRequant(c, o->requant(), count, real, &p.requant))) return s;
  return ExpectAccumulatorFits(c, int64_t(p.kernel_h) * p.kernel_w * w.dims[3],
                               r->bias, p.out_c);
}

kiln_status DecodeFullyConnected(const OpCheck& c, const fb::Model* m,
                                 OpRt* r) {
  const fb::FullyConnectedOptions* o = c.op->options_as_FullyConnectedOptions();
  kiln_status s;
  if ((s = ExpectArity(c, 2, 3)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, -1)) ||
      (s = ExpectInput(c, 1, KILN_INT8, true, 2)) ||
      (s = ExpectOutput(c, KILN_INT8, -1))) {
    return s;
  }
  const TensorRt &in = c.in(0), &w = c.in(1), &out = c.out();
  FullyConnectedParams& p = r->p.fc;
  p.batch = 1;
  p.out_features = w.dims[0];
  p.in_features = w.dims[1];
  if (in.item_elements != p.in_features ||
      out.item_elements != p.out_features) {
    return c.Fail(KILN_ERR_SHAPE,
                  "weights [%d, %d] do not fit %lld inputs "
                  "and %lld outputs",
                  p.out_features, p.in_features,
                  static_cast<long long>(in.item_elements),
                  static_cast<long long>(out.item_elements));
  }
  if ((s = DecodeBias(c, p.out_features, r))) return s;
  r->filter = reinterpret_cast<const int8_t*>(w.data);
  p.input_zero_point = in.zero_point;
  p.output_zero_point = out.zero_point;
  if ((s = ExpectClamp(c, o->act_min(), o->act_max(), &p.clamp))) return s;
  const uint32_t wt = c.input(1);
  uint32_t count = 0;
  if ((s = ExpectWeightQuantization(c, m, wt, p.out_features, &count)))
    return s;
  auto real = [&](uint32_t ch) {
    return ConvRealMultiplier(in.scale, WeightScale(m, wt, ch), out.scale);
  };
  if ((s = ExpectRequant(c, o->requant(), count, real, &p.requant))) return s;
  return ExpectAccumulatorFits(c, p.in_features, r->bias, p.out_features);
}

kiln_status DecodeAdd(const OpCheck& c, OpRt* r) {
  const fb::AddOptions* o = c.op->options_as_AddOptions();
  kiln_status s;
  if ((s = ExpectArity(c, 2, 2)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, -1)) ||
      (s = ExpectInput(c, 1, KILN_INT8, false, -1)) ||
      (s = ExpectOutput(c, KILN_INT8, -1))) {
    return s;
  }
  const TensorRt &a = c.in(0), &b = c.in(1), &out = c.out();
  if (!SameShape(a, b) || !SameShape(a, out)) {
    return c.Fail(KILN_ERR_SHAPE, "inputs and output must have one shape");
  }
  AddParams& p = r->p.add;
  p.size = static_cast<int32_t>(out.item_elements);
  p.left_shift = o->left_shift();
  if (p.left_shift < 0 || p.left_shift > kAddLeftShift) {
    return c.Fail(KILN_ERR_OPERATOR, "left_shift %d outside [0, %d]",
                  p.left_shift, kAddLeftShift);
  }
  p.input1_zero_point = a.zero_point;
  p.input2_zero_point = b.zero_point;
  p.output_zero_point = out.zero_point;
  if ((s = ExpectClamp(c, o->act_min(), o->act_max(), &p.clamp))) return s;
  const AddRealMultipliers real =
      ComputeAddRealMultipliers(a.scale, b.scale, out.scale, p.left_shift);
  if ((s = ExpectScalarRequant(
           c, o->input1_requant(), [&](uint32_t) { return real.input1; },
           &p.input1_multiplier, &p.input1_shift)) ||
      (s = ExpectScalarRequant(
           c, o->input2_requant(), [&](uint32_t) { return real.input2; },
           &p.input2_multiplier, &p.input2_shift)) ||
      (s = ExpectScalarRequant(
           c, o->output_requant(), [&](uint32_t) { return real.output; },
           &p.output_multiplier, &p.output_shift))) {
    return s;
  }
  return KILN_OK;
}

kiln_status DecodePool2D(const OpCheck& c, const fb::Pool2DOptions* o,
                         OpRt* r) {
  kiln_status s;
  if ((s = ExpectArity(c, 1, 1)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, 3)) ||
      (s = ExpectOutput(c, KILN_INT8, 3))) {
    return s;
  }
  const TensorRt &in = c.in(0), &out = c.out();
  Pool2DParams& p = r->p.pool;
  p.batch = 1;
  p.in_h = in.dims[0], p.in_w = in.dims[1], p.channels = in.dims[2];
  p.out_h = out.dims[0], p.out_w = out.dims[1];
  p.filter_h = o->filter_h(), p.filter_w = o->filter_w();
  p.stride_h = o->stride_h(), p.stride_w = o->stride_w();
  p.pad_top = o->pad_top(), p.pad_left = o->pad_left();
  if (!InWindowRange(p.filter_h, 1) || !InWindowRange(p.filter_w, 1) ||
      !InWindowRange(p.stride_h, 1) || !InWindowRange(p.stride_w, 1)) {
    return c.Fail(KILN_ERR_OPERATOR, "filter or stride outside [1, %d]",
                  kMaxWindow);
  }
  // Padding smaller than the filter keeps at least one real element in every
  // window, so the average never divides by zero.
  if (p.pad_top < 0 || p.pad_top >= p.filter_h || o->pad_bottom() < 0 ||
      o->pad_bottom() >= p.filter_h || p.pad_left < 0 ||
      p.pad_left >= p.filter_w || o->pad_right() < 0 ||
      o->pad_right() >= p.filter_w) {
    return c.Fail(KILN_ERR_OPERATOR, "padding must be in [0, filter)");
  }
  const int64_t oh =
      WindowOutput(p.in_h, p.pad_top, o->pad_bottom(), p.filter_h, p.stride_h);
  const int64_t ow =
      WindowOutput(p.in_w, p.pad_left, o->pad_right(), p.filter_w, p.stride_w);
  if (oh != p.out_h || ow != p.out_w || out.dims[2] != p.channels) {
    return c.Fail(KILN_ERR_SHAPE,
                  "output [%d, %d, %d] but the window gives "
                  "[%lld, %lld, %d]",
                  p.out_h, p.out_w, out.dims[2], static_cast<long long>(oh),
                  static_cast<long long>(ow), p.channels);
  }
  if (!SameQuantization(in, out)) {
    return c.Fail(KILN_ERR_QUANTIZATION,
                  "input and output quantization "
                  "must be equal");
  }
  return ExpectClamp(c, o->act_min(), o->act_max(), &p.clamp);
}

kiln_status DecodeGlobalAveragePool(const OpCheck& c, OpRt* r) {
  const fb::GlobalAveragePoolOptions* o =
      c.op->options_as_GlobalAveragePoolOptions();
  kiln_status s;
  if ((s = ExpectArity(c, 1, 1)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, 3)) ||
      (s = ExpectOutput(c, KILN_INT8, -1))) {
    return s;
  }
  const TensorRt &in = c.in(0), &out = c.out();
  GlobalAveragePoolParams& p = r->p.gap;
  p.batch = 1;
  p.h = in.dims[0], p.w = in.dims[1], p.channels = in.dims[2];
  if (out.item_elements != p.channels) {
    return c.Fail(KILN_ERR_SHAPE, "output has %lld elements for %d channels",
                  static_cast<long long>(out.item_elements), p.channels);
  }
  if (int64_t(p.h) * p.w * 255 > INT32_MAX) {
    return c.Fail(KILN_ERR_ACCUMULATOR, "%d x %d window can overflow int32",
                  p.h, p.w);
  }
  p.input_zero_point = in.zero_point;
  p.output_zero_point = out.zero_point;
  auto real = [&](uint32_t) {
    return GlobalAveragePoolRealMultiplier(in.scale, out.scale, p.h, p.w);
  };
  return ExpectScalarRequant(c, o->requant(), real, &p.multiplier, &p.shift);
}

kiln_status DecodeConcat(const OpCheck& c, OpRt* r) {
  const fb::ConcatOptions* o = c.op->options_as_ConcatOptions();
  kiln_status s;
  if ((s = ExpectArity(c, 1, kMaxConcatInputs)) ||
      (s = ExpectOutput(c, KILN_INT8, -1))) {
    return s;
  }
  const TensorRt& out = c.out();
  const int32_t axis = o->axis();
  if (axis < 0 || axis >= out.rank) {
    return c.Fail(KILN_ERR_OPERATOR, "axis %d outside the output's rank %d",
                  axis, out.rank);
  }
  const uint32_t n = c.op->inputs()->size();
  const auto* requants = o->requant();
  if (requants == nullptr || requants->size() != n) {
    return c.Fail(KILN_ERR_REQUANT, "needs one requant table per input");
  }
  ConcatParams& p = r->p.concat;
  p.num_inputs = static_cast<int32_t>(n);
  p.output_zero_point = out.zero_point;
  int64_t outer = 1, after = 1, axis_sum = 0;
  for (int32_t d = 0; d < axis; ++d) outer *= out.dims[d];
  for (int32_t d = axis + 1; d < out.rank; ++d) after *= out.dims[d];
  p.outer = static_cast<int32_t>(outer);
  for (uint32_t i = 0; i < n; ++i) {
    if ((s = ExpectInput(c, i, KILN_INT8, false, out.rank))) return s;
    const TensorRt& in = c.in(i);
    for (int32_t d = 0; d < out.rank; ++d) {
      if (d != axis && in.dims[d] != out.dims[d]) {
        return c.Fail(KILN_ERR_SHAPE,
                      "input %u differs from the output "
                      "outside axis %d",
                      i, axis);
      }
    }
    axis_sum += in.dims[axis];
    p.inner[i] = static_cast<int32_t>(in.dims[axis] * after);
    p.input_zero_point[i] = in.zero_point;
    const fb::Requant* rq = requants->Get(i);
    const bool copy = rq->multiplier() != nullptr &&
                      rq->multiplier()->size() == 1 &&
                      rq->multiplier()->Get(0) == 0 && rq->shift() != nullptr &&
                      rq->shift()->size() == 1 && rq->shift()->Get(0) == 0;
    if (copy) {
      if (!SameQuantization(in, out)) {
        return c.Fail(KILN_ERR_REQUANT,
                      "input %u is copied but its "
                      "quantization differs from the output's",
                      i);
      }
      p.multiplier[i] = 0;
      p.shift[i] = 0;
      continue;
    }
    auto real = [&](uint32_t) {
      return RescaleRealMultiplier(in.scale, out.scale);
    };
    if ((s = ExpectScalarRequant(c, rq, real, &p.multiplier[i], &p.shift[i]))) {
      return s;
    }
  }
  if (axis_sum != out.dims[axis]) {
    return c.Fail(KILN_ERR_SHAPE,
                  "inputs sum to %lld along axis %d, output "
                  "has %d",
                  static_cast<long long>(axis_sum), axis, out.dims[axis]);
  }
  return KILN_OK;
}

kiln_status DecodeReshape(const OpCheck& c, OpRt* r) {
  kiln_status s;
  if ((s = ExpectArity(c, 1, 1))) return s;
  const TensorRt &in = c.in(0), &out = c.out();
  if ((s = ExpectInput(c, 0, in.dtype, false, -1)) ||
      (s = ExpectOutput(c, in.dtype, -1))) {
    return s;
  }
  if (in.item_elements != out.item_elements) {
    return c.Fail(KILN_ERR_SHAPE, "%lld elements reshaped to %lld",
                  static_cast<long long>(in.item_elements),
                  static_cast<long long>(out.item_elements));
  }
  if (!SameQuantization(in, out)) {
    return c.Fail(KILN_ERR_QUANTIZATION, "reshape changes quantization");
  }
  (void)r;
  return KILN_OK;
}

// Softmax and Logistic write probabilities with scale 1/256, zero point -128.
kiln_status ExpectProbabilityOutput(const OpCheck& c) {
  const TensorRt& out = c.out();
  if (out.scale != 1.0f / 256.0f || out.zero_point != -128) {
    return c.Fail(KILN_ERR_QUANTIZATION,
                  "output must have scale 1/256 and "
                  "zero point -128");
  }
  if (!SameShape(c.in(0), out)) {
    return c.Fail(KILN_ERR_SHAPE, "output shape differs from the input's");
  }
  return KILN_OK;
}

kiln_status DecodeSoftmax(const OpCheck& c, OpRt* r) {
  kiln_status s;
  if ((s = ExpectArity(c, 2, 2)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, -1)) ||
      (s = ExpectOutput(c, KILN_INT8, -1)) ||
      (s = ExpectProbabilityOutput(c)) ||
      (s = CheckExpTable(c.ctx, c.input(1), c.err))) {
    return s;
  }
  const TensorRt& in = c.in(0);
  SoftmaxParams& p = r->p.softmax;
  p.depth = in.rank > 0 ? in.dims[in.rank - 1] : 1;
  p.rows = static_cast<int32_t>(in.item_elements / p.depth);
  p.exp_table = reinterpret_cast<const int32_t*>(c.in(1).data);
  return KILN_OK;
}

kiln_status DecodeLogistic(const OpCheck& c, OpRt* r) {
  kiln_status s;
  if ((s = ExpectArity(c, 2, 2)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, -1)) ||
      (s = ExpectInput(c, 1, KILN_INT8, true, -1)) ||
      (s = ExpectOutput(c, KILN_INT8, -1)) ||
      (s = ExpectProbabilityOutput(c))) {
    return s;
  }
  if (c.in(1).item_elements != 256) {
    return c.Fail(KILN_ERR_TABLE, "logistic table must have 256 entries");
  }
  r->p.logistic.size = static_cast<int32_t>(c.in(0).item_elements);
  r->p.logistic.table = reinterpret_cast<const int8_t*>(c.in(1).data);
  return KILN_OK;
}

kiln_status DecodeQuantize(const OpCheck& c, OpRt* r) {
  const fb::QuantizeOptions* o = c.op->options_as_QuantizeOptions();
  kiln_status s;
  if ((s = ExpectArity(c, 1, 1)) || (s = ExpectOutput(c, KILN_INT8, -1))) {
    return s;
  }
  const TensorRt &in = c.in(0), &out = c.out();
  if (in.constant || in.item_elements != out.item_elements) {
    return c.Fail(KILN_ERR_SHAPE,
                  "input must be an activation with the "
                  "output's element count");
  }
  if (in.dtype == KILN_FLOAT32) {
    r->kind = OpKind::kQuantizeFloat;
    r->p.quantize_float.size = static_cast<int32_t>(in.item_elements);
    r->p.quantize_float.scale = out.scale;
    r->p.quantize_float.output_zero_point = out.zero_point;
    return KILN_OK;
  }
  if (in.dtype != KILN_UINT8 && in.dtype != KILN_INT8) {
    return c.Fail(KILN_ERR_DTYPE, "input must be uint8, int8 or float32");
  }
  r->kind =
      in.dtype == KILN_UINT8 ? OpKind::kQuantizeUint8 : OpKind::kQuantizeInt8;
  QuantizeIntParams& p = r->p.quantize_int;
  p.size = static_cast<int32_t>(in.item_elements);
  p.input_zero_point = in.zero_point;
  p.output_zero_point = out.zero_point;
  auto real = [&](uint32_t) {
    return RescaleRealMultiplier(in.scale, out.scale);
  };
  return ExpectScalarRequant(c, o->requant(), real, &p.multiplier, &p.shift);
}

kiln_status DecodeDequantize(const OpCheck& c, OpRt* r) {
  kiln_status s;
  if ((s = ExpectArity(c, 1, 1)) ||
      (s = ExpectInput(c, 0, KILN_INT8, false, -1)) ||
      (s = ExpectOutput(c, KILN_FLOAT32, -1))) {
    return s;
  }
  if (c.in(0).item_elements != c.out().item_elements) {
    return c.Fail(KILN_ERR_SHAPE, "element counts differ");
  }
  r->p.dequantize.size = static_cast<int32_t>(c.in(0).item_elements);
  r->p.dequantize.scale = c.in(0).scale;
  r->p.dequantize.input_zero_point = c.in(0).zero_point;
  return KILN_OK;
}

}  // namespace

kiln_status DecodeOperator(kiln_context* ctx, uint32_t index, kiln_error* err) {
  const fb::Model* m = fb::GetModel(ctx->model);
  const OpCheck c{ctx, index, m->operators()->Get(index), err};
  OpRt* r = &ctx->operators[index];
  memset(r, 0, sizeof(*r));
  const auto* inputs = c.op->inputs();
  const auto* outputs = c.op->outputs();
  if (inputs == nullptr || inputs->size() == 0 ||
      inputs->size() > kMaxConcatInputs || outputs == nullptr ||
      outputs->size() != 1) {
    return c.Fail(KILN_ERR_OPERATOR,
                  "needs 1..%d inputs and exactly one "
                  "output",
                  kMaxConcatInputs);
  }
  for (uint32_t i = 0; i < inputs->size(); ++i) {
    if (inputs->Get(i) >= ctx->num_tensors) {
      return c.Fail(KILN_ERR_TENSOR_INDEX, "input %u: tensor %u out of range",
                    i, inputs->Get(i));
    }
    r->inputs[i] = inputs->Get(i);
  }
  r->num_inputs = static_cast<int32_t>(inputs->size());
  r->output = outputs->Get(0);
  if (r->output >= ctx->num_tensors) {
    return c.Fail(KILN_ERR_TENSOR_INDEX, "output tensor %u out of range",
                  r->output);
  }
  if (ctx->tensors[r->output].constant) {
    return c.Fail(KILN_ERR_GRAPH, "writes the constant tensor %u", r->output);
  }
  switch (c.op->options_type()) {
    case fb::OperatorOptions::Conv2DOptions:
      r->kind = OpKind::kConv2D;
      return DecodeConv2D(c, m, r);
    case fb::OperatorOptions::FullyConnectedOptions:
      r->kind = OpKind::kFullyConnected;
      return DecodeFullyConnected(c, m, r);
    case fb::OperatorOptions::AddOptions:
      r->kind = OpKind::kAdd;
      return DecodeAdd(c, r);
    case fb::OperatorOptions::AveragePool2DOptions:
      r->kind = OpKind::kAveragePool2D;
      return DecodePool2D(c, c.op->options_as_AveragePool2DOptions(), r);
    case fb::OperatorOptions::MaxPool2DOptions:
      r->kind = OpKind::kMaxPool2D;
      return DecodePool2D(c, c.op->options_as_MaxPool2DOptions(), r);
    case fb::OperatorOptions::GlobalAveragePoolOptions:
      r->kind = OpKind::kGlobalAveragePool;
      return DecodeGlobalAveragePool(c, r);
    case fb::OperatorOptions::ConcatOptions:
      r->kind = OpKind::kConcat;
      return DecodeConcat(c, r);
    case fb::OperatorOptions::ReshapeOptions:
      r->kind = OpKind::kReshape;
      return DecodeReshape(c, r);
    case fb::OperatorOptions::SoftmaxOptions:
      r->kind = OpKind::kSoftmax;
      return DecodeSoftmax(c, r);
    case fb::OperatorOptions::LogisticOptions:
      r->kind = OpKind::kLogistic;
      return DecodeLogistic(c, r);
    case fb::OperatorOptions::QuantizeOptions:
      return DecodeQuantize(c, r);
    case fb::OperatorOptions::DequantizeOptions:
      r->kind = OpKind::kDequantize;
      return DecodeDequantize(c, r);
    default:
      break;
  }
  return SetError(err, KILN_ERR_OPERATOR,
                  "operator %u: unknown operator "
                  "kind %d",
                  index, static_cast<int>(c.op->options_type()));
}

}  // namespace rt
}  // namespace kiln
