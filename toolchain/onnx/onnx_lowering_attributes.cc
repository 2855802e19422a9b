// Reading ONNX node attributes for the lowering: typed access (a wrong
// attribute type fails the node instead of reading a default), axis
// normalisation, and the sliding-window attributes (kernel, strides,
// dilations, pads, auto_pad) Conv and the pools share.
#include <algorithm>
#include <string>
#include <vector>

#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {

using onnx::NodeProto;

const onnx::AttributeProto* FindAttribute(const NodeProto& node,
                                          const std::string& name) {
  for (const auto& attr : node.attribute())
    if (attr.name() == name) return &attr;
  return nullptr;
}

namespace {
const onnx::AttributeProto* TypedAttribute(
    const Lowerer& l, const NodeProto& node, const std::string& name,
    onnx::AttributeProto::AttributeType type) {
  const onnx::AttributeProto* attr = FindAttribute(node, name);
  if (attr != nullptr && attr->type() != type)
    l.Fail(node, "attribute '" + name + "' has the wrong type");
  return attr;
}
}  // namespace

int64_t AttrInt(const Lowerer& l, const NodeProto& node,
                const std::string& name, int64_t fallback) {
  auto* a = TypedAttribute(l, node, name, onnx::AttributeProto::INT);
  return a ? a->i() : fallback;
}

float AttrFloat(const Lowerer& l, const NodeProto& node,
                const std::string& name, float fallback) {
  auto* a = TypedAttribute(l, node, name, onnx::AttributeProto::FLOAT);
  return a ? a->f() : fallback;
}

std::string AttrString(const Lowerer& l, const NodeProto& node,
                       const std::string& name, const std::string& fallback) {
  auto* a = TypedAttribute(l, node, name, onnx::AttributeProto::STRING);
  return a ? a->s() : fallback;
}

std::vector<int64_t> AttrInts(const Lowerer& l, const NodeProto& node,
                              const std::string& name,
                              const std::vector<int64_t>& fallback) {
  auto* a = TypedAttribute(l, node, name, onnx::AttributeProto::INTS);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end())
           : fallback;
}

std::vector<float> AttrFloats(const Lowerer& l, const NodeProto& node,
                              const std::string& name,
                              const std::vector<float>& fallback) {
  auto* a = TypedAttribute(l, node, name, onnx::AttributeProto::FLOATS);
  return a ? std::vector<float>(a->floats().begin(), a->floats().end())
           : fallback;
}

std::vector<std::string> AttrStrings(const Lowerer& l, const NodeProto& node,
                                     const std::string& name) {
  auto* a = TypedAttribute(l, node, name, onnx::AttributeProto::STRINGS);
  return a ? std::vector<std::string>(a->strings().begin(), a->strings().end())
           : std::vector<std::string>();
}

// --- axes and windows ---

int64_t NormalizeAxis(Lowerer& l, const NodeProto& node, int64_t axis,
                      size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    l.Fail(node, "axis " + std::to_string(axis) + " is out of range for rank " +
                     std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

namespace {

void ResolveWindow(Lowerer& l, const NodeProto& node,
                   const std::string& auto_pad, WindowAxis* a) {
  if (a->stride < 1 || a->stride > kMaxWindow || a->dilation < 1 ||
      a->dilation > kMaxWindow || a->kernel < 1 || a->kernel > kMaxWindow)
    l.Fail(node, "kernel, stride or dilation out of range");
  const int64_t extent = (a->kernel - 1) * a->dilation + 1;
  if (auto_pad == "VALID") {
    a->pad_begin = a->pad_end = 0;
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const int64_t out = (a->in + a->stride - 1) / a->stride;
    const int64_t total =
        std::max<int64_t>(0, (out - 1) * a->stride + extent - a->in);
    // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the start.
    const int64_t small = total / 2;
    a->pad_begin = auto_pad == "SAME_UPPER" ? small : total - small;
    a->pad_end = total - a->pad_begin;
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    l.Fail(node, "auto_pad '" + auto_pad + "' is not supported");
  }
  if (a->pad_begin < 0 || a->pad_end < 0 || a->pad_begin > kMaxWindow ||
      a->pad_end > kMaxWindow)
    l.Fail(node, "pads out of range");
  const int64_t padded = a->in + a->pad_begin + a->pad_end;
  if (padded < extent)
    l.Fail(node, "the window (" + std::to_string(extent) +
                     ") is larger than the padded input (" +
                     std::to_string(padded) + ")");
  a->out = (padded - extent) / a->stride + 1;
}

}  // namespace

void ReadWindows(Lowerer& l, const NodeProto& node, int64_t h, int64_t w,
                 int64_t kh, int64_t kw, WindowAxis* ah, WindowAxis* aw) {
  const auto strides = AttrInts(l, node, "strides", {1, 1});
  const auto dilations = AttrInts(l, node, "dilations", {1, 1});
  const auto pads = AttrInts(l, node, "pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4)
    l.Fail(node, "only 2-D windows are supported (strides, dilations, pads)");
  const std::string auto_pad = AttrString(l, node, "auto_pad", "NOTSET");
  *ah = WindowAxis{h, kh, strides[0], dilations[0], pads[0], pads[2], 0};
  *aw = WindowAxis{w, kw, strides[1], dilations[1], pads[1], pads[3], 0};
  ResolveWindow(l, node, auto_pad, ah);
  ResolveWindow(l, node, auto_pad, aw);
}

Conv2DOptions ConvOptionsOf(const WindowAxis& ah, const WindowAxis& aw,
                            int64_t groups) {
  Conv2DOptions o;
  o.stride_h = static_cast<int32_t>(ah.stride);
  o.stride_w = static_cast<int32_t>(aw.stride);
  o.dilation_h = static_cast<int32_t>(ah.dilation);
  o.dilation_w = static_cast<int32_t>(aw.dilation);
  o.pad_top = static_cast<int32_t>(ah.pad_begin);
  o.pad_bottom = static_cast<int32_t>(ah.pad_end);
  o.pad_left = static_cast<int32_t>(aw.pad_begin);
  o.pad_right = static_cast<int32_t>(aw.pad_end);
  o.groups = static_cast<int32_t>(groups);
  return o;
}

Pool2DOptions PoolOptionsOf(const WindowAxis& ah, const WindowAxis& aw) {
  Pool2DOptions o;
  o.filter_h = static_cast<int32_t>(ah.kernel);
  o.filter_w = static_cast<int32_t>(aw.kernel);
  o.stride_h = static_cast<int32_t>(ah.stride);
  o.stride_w = static_cast<int32_t>(aw.stride);
  o.pad_top = static_cast<int32_t>(ah.pad_begin);
  o.pad_bottom = static_cast<int32_t>(ah.pad_end);
  o.pad_left = static_cast<int32_t>(aw.pad_begin);
  o.pad_right = static_cast<int32_t>(aw.pad_end);
  return o;
}

void AddWindowedOp(Lowerer& l, const NodeProto& node, ImportedOp op,
                   int64_t channels, const WindowAxis& ah,
                   const WindowAxis& aw) {
  Tensor out;
  out.dims = {1, channels, ah.out, aw.out};
  out.value =
      l.AddValue(node, node.output(0), out.dims, l.KilnShape(node, out.dims));
  op.output = out.value;
  l.AddOp(std::move(op));
  l.SetTensor(node.output(0), std::move(out));
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
