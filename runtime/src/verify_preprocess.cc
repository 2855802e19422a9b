// Model verification, part 3: the Preprocess table. kiln_preprocess_image
// and kiln_preprocess_features run without further checks on what passes
// here, so every value they index or divide by is proven in range: enum
// values, the sizes of mean and std, finite values, a non-zero std, a finite
// gamma > 0, and the image size against the graph input's shape and type.
// The rules are docs/preprocessing.md, "Validity".
#include <math.h>

#include "runtime/src/preprocess.h"
#include "runtime/src/schema.h"

namespace kiln {
namespace rt {
namespace {

kiln_status Bad(kiln_error* err, const char* what) {
  return SetError(err, KILN_ERR_PREPROCESS, "preprocess: %s", what);
}

bool InRange(int32_t v, int32_t lo, int32_t hi) { return v >= lo && v <= hi; }

// The graph input the spec writes: a known type, a shape within the
// format's limits, a consistent item size and (for integer types) a valid
// quantization. A model's input already passed the tensor checks; a spec a
// caller filled by hand has not. *elements receives the element count.
kiln_status CheckInput(const kiln_tensor_info& in, int64_t* elements,
                       kiln_error* err) {
  if (in.dtype != KILN_INT8 && in.dtype != KILN_UINT8 &&
      in.dtype != KILN_FLOAT32) {
    return SetError(err, KILN_ERR_PREPROCESS,
                    "preprocess: the input's type %d is not INT8, UINT8 or "
                    "FLOAT32",
                    static_cast<int>(in.dtype));
  }
  if (!InRange(in.rank, 0, KILN_MAX_RANK)) {
    return SetError(err, KILN_ERR_PREPROCESS,
                    "preprocess: the input's rank %d is outside [0, %d]",
                    in.rank, KILN_MAX_RANK);
  }
  int64_t n = 1;
  for (int32_t d = 0; d < in.rank; ++d) {
    if (!InRange(in.dims[d], 1, kMaxDim)) {
      return SetError(err, KILN_ERR_PREPROCESS,
                      "preprocess: input dimension %d is %d", d, in.dims[d]);
    }
    n *= in.dims[d];  // < 2^31 * 2^24 before the check below
    if (n > kMaxItemElements) {
      return Bad(err, "the input has more than 2^31-1 elements");
    }
  }
  const uint64_t bytes = static_cast<uint64_t>(n) * DTypeSize(in.dtype);
  if (static_cast<uint64_t>(in.item_bytes) != bytes) {
    return SetError(err, KILN_ERR_PREPROCESS,
                    "preprocess: the input's item_bytes %llu do not match its "
                    "shape (%llu)",
                    static_cast<unsigned long long>(in.item_bytes),
                    static_cast<unsigned long long>(bytes));
  }
  if (in.dtype != KILN_FLOAT32) {
    const int32_t lo = in.dtype == KILN_UINT8 ? 0 : -128;
    if (!isfinite(in.scale) || !isnormal(in.scale) || !(in.scale > 0.0f) ||
        !InRange(in.zero_point, lo, lo + 255)) {
      return Bad(err, "the input's scale or zero point is invalid");
    }
  }
  *elements = n;
  return KILN_OK;
}

// mean and std: absent (count 0) or exactly `n` values; mean finite, std
// finite and non-zero.
kiln_status CheckMeanStd(const kiln_preprocess_spec& s, int64_t n,
                         const char* per, kiln_error* err) {
  const struct {
    const char* name;
    const float* values;
    int32_t count;
    bool is_std;
  } lists[2] = {{"mean", s.mean, s.mean_count, false},
                {"std", s.std, s.std_count, true}};
  for (const auto& list : lists) {
    if (list.count != 0 && list.count != n) {
      return SetError(err, KILN_ERR_PREPROCESS,
                      "preprocess: %d %s values, need 0 or %lld (one per %s)",
                      list.count, list.name, static_cast<long long>(n), per);
    }
    if (list.count != 0 && list.values == nullptr) {
      return SetError(err, KILN_ERR_PREPROCESS,
                      "preprocess: %s has %d values but no data", list.name,
                      list.count);
    }
    for (int32_t i = 0; i < list.count; ++i) {
      const float v = list.values[i];
      if (!isfinite(v) || (list.is_std && v == 0.0f)) {
        return SetError(err, KILN_ERR_PREPROCESS,
                        "preprocess: %s[%d] is %g, must be finite%s", list.name,
                        i, static_cast<double>(v),
                        list.is_std ? " and non-zero" : "");
      }
    }
  }
  return KILN_OK;
}

kiln_status CheckImage(const kiln_preprocess_spec& s, int64_t elements,
                       kiln_error* err) {
  if (s.channel_order == KILN_CHANNELS_NONE) {
    return Bad(err, "an image layout needs channel_order RGB, BGR or GRAY");
  }
  if (s.feature_norm != KILN_FEATURE_NORM_NONE) {
    return Bad(err, "feature_norm applies to FLAT (feature) layouts only");
  }
  const int32_t c = s.channel_order == KILN_CHANNELS_GRAY ? 1 : 3;
  if (!InRange(s.height, 1, kMaxDim) || !InRange(s.width, 1, kMaxDim) ||
      int64_t{s.height} * s.width * c != elements) {
    return SetError(err, KILN_ERR_PREPROCESS,
                    "preprocess: a %dx%d image with %d channels does not "
                    "fill the input's %lld elements",
                    s.height, s.width, c, static_cast<long long>(elements));
  }
  const kiln_tensor_info& in = s.input;
  if (in.rank == 3) {
    const bool nhwc = s.layout == KILN_LAYOUT_NHWC;
    const int32_t want[3] = {nhwc ? s.height : c, nhwc ? s.width : s.height,
                             nhwc ? c : s.width};
    for (int32_t d = 0; d < 3; ++d) {
      if (in.dims[d] != want[d]) {
        return SetError(err, KILN_ERR_PREPROCESS,
                        "preprocess: the input's shape [%d, %d, %d] is not "
                        "%s [%d, %d, %d]",
                        in.dims[0], in.dims[1], in.dims[2],
                        nhwc ? "NHWC" : "NCHW", want[0], want[1], want[2]);
      }
    }
  }
  return CheckMeanStd(s, c, "channel", err);
}

kiln_status CheckFeatures(const kiln_preprocess_spec& s, int64_t elements,
                          kiln_error* err) {
  if (s.channel_order != KILN_CHANNELS_NONE || s.height != 0 || s.width != 0 ||
      s.resize != KILN_RESIZE_NONE || s.equalize != 0 || s.gamma != 1.0f) {
    return Bad(err,
               "the FLAT (feature) layout takes no channel order, size, "
               "resize, equalization or gamma");
  }
  return CheckMeanStd(s, elements, "feature", err);
}

}  // namespace

bool ReadPreprocessSpec(const kiln_context* ctx, kiln_preprocess_spec* spec) {
  const fb::Preprocess* p = fb::GetModel(ctx->model)->preprocess();
  if (p == nullptr) return false;
  spec->layout = static_cast<int32_t>(p->layout());
  spec->channel_order = static_cast<int32_t>(p->channel_order());
  spec->height = p->height();
  spec->width = p->width();
  spec->resize = static_cast<int32_t>(p->resize());
  spec->equalize = p->equalize() ? 1 : 0;
  spec->gamma = p->gamma();
  spec->feature_norm = static_cast<int32_t>(p->feature_norm());
  // The FlatBuffers verifier proved both vectors in bounds and 4-byte
  // aligned; the format is little-endian like every host the runtime
  // supports, so the floats are read in place.
  const auto* mean = p->mean();
  const auto* std_dev = p->std();
  spec->mean = mean != nullptr && mean->size() != 0 ? mean->data() : nullptr;
  spec->mean_count = mean != nullptr ? static_cast<int32_t>(mean->size()) : 0;
  spec->std =
      std_dev != nullptr && std_dev->size() != 0 ? std_dev->data() : nullptr;
  spec->std_count =
      std_dev != nullptr ? static_cast<int32_t>(std_dev->size()) : 0;
  FillTensorInfo(ctx->tensors[ctx->inputs[0]], &spec->input);
  return true;
}

kiln_status VerifyPreprocess(const kiln_context* ctx, kiln_error* err) {
  kiln_preprocess_spec spec;
  if (!ReadPreprocessSpec(ctx, &spec)) return KILN_OK;
  return kiln_check_preprocess_spec(&spec, err);
}

}  // namespace rt
}  // namespace kiln

using namespace kiln::rt;

extern "C" kiln_status kiln_check_preprocess_spec(
    const kiln_preprocess_spec* spec, kiln_error* err) {
  if (spec == nullptr) {
    return SetError(err, KILN_ERR_INVALID_ARGUMENT, "null preprocessing spec");
  }
  const kiln_preprocess_spec& s = *spec;
  if (!InRange(s.layout, KILN_LAYOUT_NHWC, KILN_LAYOUT_FLAT) ||
      !InRange(s.channel_order, KILN_CHANNELS_NONE, KILN_CHANNELS_GRAY) ||
      !InRange(s.resize, KILN_RESIZE_NONE, KILN_RESIZE_NEAREST) ||
      !InRange(s.feature_norm, KILN_FEATURE_NORM_NONE,
               KILN_FEATURE_NORM_MAX_ABS) ||
      !InRange(s.equalize, 0, 1)) {
    return SetError(err, KILN_ERR_PREPROCESS,
                    "preprocess: unknown value (layout %d, channel_order %d, "
                    "resize %d, feature_norm %d, equalize %d)",
                    s.layout, s.channel_order, s.resize, s.feature_norm,
                    s.equalize);
  }
  if (!isfinite(s.gamma) || !(s.gamma > 0.0f)) {
    return SetError(err, KILN_ERR_PREPROCESS,
                    "preprocess: gamma is %g, must be finite and > 0",
                    static_cast<double>(s.gamma));
  }
  int64_t elements = 0;
  kiln_status status = CheckInput(s.input, &elements, err);
  if (status != KILN_OK) return status;
  return s.layout == KILN_LAYOUT_FLAT ? CheckFeatures(s, elements, err)
                                      : CheckImage(s, elements, err);
}
