// Kernel path selection and weight prepacking at init (docs/runtime.md,
// "Kernel paths"). The arena reserves, for every Conv2D / FullyConnected, the
// packed form of its weights and the largest scratch any of them needs; the
// sizes depend only on shapes, never on the path, so kiln_arena_size is the
// same on every CPU.
#include <stdlib.h>

#include "kernels/driver/drivers.h"
#include "kernels/driver/quantize_lut.h"
#include "runtime/src/internal.h"
#include "runtime/src/schema.h"

namespace kiln {
namespace rt {
namespace {

// Packed bytes and scratch of one operator.
struct OpNeeds {
  uint64_t packed = 0;
  uint64_t scratch = 0;
};

OpNeeds NeedsOfConv(const Conv2DParams& p) {
  OpNeeds n;
  if (ConvIsGemm(p)) {
    const int32_t k = ConvGemmK(p);
    n.packed = PackedGemmBytes(p.out_c, k);
    n.scratch = GemmDriverScratchBytes(k);
  } else if (ConvIsDepthwise(p)) {
    n.packed = PackedDwBytes(p.out_c, p.kernel_h, p.kernel_w);
    n.scratch = DwScratchBytes(p);
  }
  return n;
}

OpNeeds NeedsOfFullyConnected(int32_t in_features, int32_t out_features) {
  OpNeeds n;
  n.packed = PackedGemmBytes(out_features, in_features);
  n.scratch = GemmDriverScratchBytes(in_features);
  return n;
}

// Dimension d of a tensor's per-item shape if it lies in [1, kMaxDim].
bool DimOf(const fb::Model* m, const flatbuffers::Vector<uint32_t>* indices,
           uint32_t which, uint32_t d, int32_t* out) {
  if (indices == nullptr || which >= indices->size()) return false;
  const uint32_t t = indices->Get(which);
  if (m->tensors() == nullptr || t >= m->tensors()->size()) return false;
  const auto* shape = m->tensors()->Get(t)->shape();
  if (shape == nullptr || d >= shape->size()) return false;
  const int32_t v = shape->Get(d);
  if (v < 1 || v > kMaxDim) return false;
  *out = v;
  return true;
}

// The needs of operator `op` read from raw shapes; zero when the operator
// is malformed (semantic verification rejects it later). Window sizes are
// capped like the verifier caps them, so the products stay far from int32
// overflow for any accepted model and are re-checked against the decoded
// operator in PrepackOperators.
OpNeeds StructuralNeeds(const fb::Model* m, const fb::Operator* op) {
  OpNeeds none;
  const auto* in = op->inputs();
  const auto* out = op->outputs();
  if (const fb::Conv2DOptions* o = op->options_as_Conv2DOptions()) {
    // Every field the size functions may read, as DecodeConv2D will decode
    // it (kernels/dwconv.h: DwScratchBytes depends on the window geometry).
    Conv2DParams p = {};
    int32_t depth = 0;
    if (!DimOf(m, in, 0, 0, &p.in_h) || !DimOf(m, in, 0, 1, &p.in_w) ||
        !DimOf(m, in, 0, 2, &p.in_c) || !DimOf(m, in, 1, 0, &p.out_c) ||
        !DimOf(m, in, 1, 1, &p.kernel_h) || !DimOf(m, in, 1, 2, &p.kernel_w) ||
        !DimOf(m, in, 1, 3, &depth) || !DimOf(m, out, 0, 0, &p.out_h) ||
        !DimOf(m, out, 0, 1, &p.out_w)) {
      return none;
    }
    p.batch = 1;
    p.stride_h = o->stride_h(), p.stride_w = o->stride_w();
    p.dilation_h = o->dilation_h(), p.dilation_w = o->dilation_w();
    p.pad_top = o->pad_top(), p.pad_left = o->pad_left();
    p.groups = o->groups();
    auto in_range = [](int32_t v, int32_t lo) {
      return v >= lo && v <= kMaxWindow;
    };
    if (p.groups < 1 || !in_range(p.kernel_h, 1) || !in_range(p.kernel_w, 1) ||
        !in_range(p.stride_h, 1) || !in_range(p.stride_w, 1) ||
        !in_range(p.dilation_h, 1) || !in_range(p.dilation_w, 1) ||
        !in_range(p.pad_top, 0) || !in_range(p.pad_left, 0) ||
        int64_t(p.kernel_h) * p.kernel_w * depth > INT32_MAX / 2) {
      return none;
    }
    return NeedsOfConv(p);
  }
  if (op->options_as_QuantizeOptions() != nullptr) {
    OpNeeds lut;  // integer inputs use a table; reserved for every Quantize
    lut.packed = 256;
    return lut;
  }
  if (op->options_as_FullyConnectedOptions() != nullptr) {
    int32_t n = 0, k = 0;
    if (!DimOf(m, in, 1, 0, &n) || !DimOf(m, in, 1, 1, &k)) return none;
    return NeedsOfFullyConnected(k, n);
  }
  return none;
}

bool IsaBit(uint32_t mask, Isa isa) {
  return (mask >> static_cast<int>(isa)) & 1;
}

}  // namespace

KernelRegion KernelRegionOf(const void* model) {
  const fb::Model* m = fb::GetModel(model);
  KernelRegion r{0, 0};
  if (m->operators() == nullptr) return r;
  for (const fb::Operator* op : *m->operators()) {
    const OpNeeds n = StructuralNeeds(m, op);
    // At most kMaxOperators operators of at most ~2^33 bytes each: no
    // overflow in uint64.
    r.packed += n.packed;
    if (n.scratch > r.scratch) r.scratch = n.scratch;
  }
  return r;
}

kiln_status SelectKernels(kiln_context* ctx, kiln_error* err) {
  const uint32_t mask = SupportedIsaMask();
  Isa isa = BestIsa(mask);
  if (const char* forced = getenv(kIsaEnvVar)) {
    if (forced[0] != '\0') {
      if (!IsaFromName(forced, &isa)) {
        return SetError(err, KILN_ERR_UNSUPPORTED,
                        "%s=%.40s is not a kernel path (ref, scalar, avx2, "
                        "avxvnni, avx512vnni, amx, neon, neondot)",
                        kIsaEnvVar, forced);
      }
      if (!IsaBit(mask, isa)) {
        return SetError(err, KILN_ERR_UNSUPPORTED,
                        "%s=%s: this build or CPU cannot run that path",
                        kIsaEnvVar, IsaName(isa));
      }
    }
  }
  if (!GetKernelTable(isa, &ctx->kernels)) {
    return SetError(err, KILN_ERR_UNSUPPORTED, "kernel path %s not compiled in",
                    IsaName(isa));
  }
  return KILN_OK;
}

kiln_status PrepackOperators(kiln_context* ctx, kiln_error* err) {
  const KernelTable& table = ctx->kernels;
  uint8_t* packed = ctx->fixed + ctx->packed_offset;
  uint8_t* const packed_end = ctx->fixed + ctx->scratch_offset;
  const uint64_t scratch_bytes = ctx->fixed_bytes - ctx->scratch_offset;
  for (uint32_t i = 0; i < ctx->num_operators; ++i) {
    OpRt& op = ctx->operators[i];
    op.packed = nullptr;
    OpNeeds needs;
    bool gemm = false, dw = false, lut = false;
    if (op.kind == OpKind::kConv2D) {
      needs = NeedsOfConv(op.p.conv);
      gemm = ConvIsGemm(op.p.conv) && table.gemm != nullptr;
      dw = ConvIsDepthwise(op.p.conv) && table.dwconv != nullptr;
    } else if (op.kind == OpKind::kFullyConnected) {
      needs = NeedsOfFullyConnected(op.p.fc.in_features, op.p.fc.out_features);
      gemm = table.gemm != nullptr;
    } else if (op.kind == OpKind::kQuantizeUint8 ||
               op.kind == OpKind::kQuantizeInt8 ||
               op.kind == OpKind::kQuantizeFloat) {
      needs.packed = 256;
      lut = op.kind != OpKind::kQuantizeFloat && table.isa != Isa::kRef;
    } else {
      continue;
    }
    // The structural pass reserved exactly these sizes for a valid model;
    // anything else means the file lied about a shape somewhere.
    if (needs.packed > static_cast<uint64_t>(packed_end - packed) ||
        needs.scratch > scratch_bytes) {
      return SetError(err, KILN_ERR_PLAN,
                      "operator %u: prepacked weights do not fit the region "
                      "reserved from the model's shapes",
                      i);
    }
    if (gemm && op.kind == OpKind::kConv2D) {
      const Conv2DParams& p = op.p.conv;
      op.packed = PackGemm(p.out_c, ConvGemmK(p), op.filter, op.bias, p.requant,
                           p.input_zero_point, table.gemm_input, packed);
    } else if (gemm) {
      const FullyConnectedParams& p = op.p.fc;
      op.packed =
          PackGemm(p.out_features, p.in_features, op.filter, op.bias, p.requant,
                   p.input_zero_point, table.gemm_input, packed);
    } else if (lut) {
      int8_t* t = reinterpret_cast<int8_t*>(packed);
      BuildQuantizeLut(op.p.quantize_int, op.kind == OpKind::kQuantizeInt8, t);
      op.packed = t;
    } else if (dw) {
      const Conv2DParams& p = op.p.conv;
      op.packed = PackDw(p.out_c, p.kernel_h, p.kernel_w, op.filter, op.bias,
                         p.requant, packed);
    }
    packed += needs.packed;
  }
  return KILN_OK;
}

}  // namespace rt
}  // namespace kiln
