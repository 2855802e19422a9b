// Lowering a checked ONNX ModelProto to an ImportedGraph (imported_graph.h).
//
// LowerOnnxModel walks the nodes once, in the graph's (topological) order,
// keeping for every ONNX value name what it currently stands for:
//   - a constant (initializer, Constant node, folded shape arithmetic,
//     a DequantizeLinear of an initializer), or
//   - a tensor: an ImportedValue plus its ONNX dims (batch dim as 1) and the
//     facts later nodes need to fuse or fold into its producer.
// Constants never become values: they end up in the weights and biases of
// the ops that use them. Everything it cannot honour exactly is an error
// naming the node ("node 'conv1' (Conv): ...").
//
// The internals below are shared by the lowering's files: onnx_lowering.cc
// (the walk, bookkeeping, op_type dispatch), onnx_lowering_attributes.cc,
// onnx_lowering_constants.cc, onnx_lowering_linear.cc,
// onnx_lowering_activation.cc, onnx_lowering_pool.cc,
// onnx_lowering_layout.cc, onnx_lowering_qdq.cc (default domain) and
// onnx_lowering_ml.cc (ai.onnx.ml); other code uses LowerOnnxModel (and
// ConstantFromTensorProto) only.
#ifndef KILN_TOOLCHAIN_ONNX_ONNX_LOWERING_H_
#define KILN_TOOLCHAIN_ONNX_ONNX_LOWERING_H_

#include <stdint.h>

#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "toolchain/onnx/imported_graph.h"

namespace kiln {
namespace onnx_import {

// *model must have passed ValidateOnnxModel (onnx_file.h); the lowering
// still checks what it reads, so a model that skipped it fails cleanly.
bool LowerOnnxModel(const onnx::ModelProto& model, ImportedGraph* graph,
                    std::string* error);

namespace lowering {

// Thrown inside the lowering, caught by LowerOnnxModel.
struct LoweringError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Constant {
  std::vector<int64_t> dims;
  int32_t elem_type = onnx::TensorProto::FLOAT;  // the ONNX dtype
  // FLOAT/DOUBLE data in f; integer data in i. DequantizeLinear outputs are
  // FLOAT with the dq_* fields set.
  std::vector<float> f;
  std::vector<int64_t> i;
  // A DequantizeLinear of an integer constant: its scales (one = per
  // tensor) and zero points along dq_axis, and the quantized dtype.
  bool dequantized = false;
  std::vector<float> dq_scales;
  std::vector<int64_t> dq_zero_points;
  int64_t dq_axis = -1;
  int32_t dq_type = 0;
  // A QuantizeLinear of a float constant (PyTorch exports weights that way):
  // integer data in i plus the scales and zero points it used.
  bool quantized = false;

  int64_t Count() const;
  bool IsInt() const { return elem_type != onnx::TensorProto::FLOAT; }
  // The data as floats / as int64 (converting), or an error.
  std::vector<float> Floats() const;
  std::vector<int64_t> Ints() const;
};

struct Tensor {
  int32_t value = -1;         // index into graph->values
  std::vector<int64_t> dims;  // ONNX dims, batch dim set to 1
  // The value holds an ONNX [1, C, H, W] tensor flattened to [1, C*H*W], in
  // Kiln's HWC order (chw = {C, H, W}); only a fully connected op can read
  // it, by permuting its weight columns.
  std::vector<int64_t> chw;
  // The ONNX value is the output of a QuantizeLinear: int8 data that only a
  // DequantizeLinear may read.
  bool quantized_int = false;
  // The value was reached from its producer op's output through
  // single-consumer steps only (Identity, Q/DQ, ...), so the op may absorb
  // this node (activation, BatchNormalization, bias).
  bool sole = true;
  // Softmax/Sigmoid outputs and classifier scores: the logits' value.
  int32_t logits = -1;
  std::vector<std::string> labels;
  // A classifier's label output: not data, stands for the head on `value`.
  bool is_label = false;
  // Scikit-learn Scaler not yet folded: the data is a[k] * x[k] + b[k].
  std::vector<float> pending_a, pending_b;
  // The output of a zero Pad on H/W not yet folded: dims are the padded
  // ONNX dims, `value` holds the unpadded data, pending_pads = {top, left,
  // bottom, right}. Only a Conv or AveragePool reads it (the pads become
  // its own padding, which stands for real zeros).
  std::vector<int64_t> pending_pads;
  // The graph input and what Kiln preprocessing already took of it:
  // 0 raw, 1 after a Scaler, 2 after a Normalizer; -1 for other tensors.
  int preprocess_stage = -1;
};

struct Entry {
  bool is_constant = false;
  Constant constant;
  Tensor tensor;
};

class Lowerer {
 public:
  Lowerer(const onnx::ModelProto& model, ImportedGraph* graph);
  void Run();  // throws LoweringError

  // --- shared helpers (onnx_lowering.cc) ---
  [[noreturn]] void Fail(const onnx::NodeProto& node,
                         const std::string& why) const;
  std::string NodeName(const onnx::NodeProto& node) const;
  const Entry& Lookup(const onnx::NodeProto& node,
                      const std::string& name) const;
  bool HasInput(const onnx::NodeProto& node, int index) const;
  const Tensor& InputTensor(const onnx::NodeProto& node, int index) const;
  const Constant& InputConstant(const onnx::NodeProto& node, int index) const;
  void SetConstant(const std::string& name, Constant constant);
  void SetTensor(const std::string& name, Tensor tensor);
  // Input `input_index` as the tensor of a node that passes it through
  // (Identity, Q/DQ, Cast, ...): same value, `sole` updated.
  Tensor Alias(const onnx::NodeProto& node, int input_index) const;
  // Outputs past the first must be absent or unused.
  void RequireUnusedOutputs(const onnx::NodeProto& node, int first) const;
  int Consumers(const std::string& name) const;
  bool IsGraphOutput(const std::string& name) const;
  // The index of the op producing input `index` of `node` when that op (of
  // one of `kinds`, no activation yet) may absorb `node`, else -1. With
  // allow_activation, an op that already has a fused activation also
  // qualifies (Relu then Clip(0, 6), as PyTorch exports relu6).
  int32_t FoldableProducer(const onnx::NodeProto& node, int index,
                           const std::vector<ImportedOpKind>& kinds,
                           bool allow_activation = false) const;
  int32_t AddValue(const onnx::NodeProto& node, const std::string& name,
                   const std::vector<int64_t>& dims,
                   std::vector<int32_t> kiln_shape);
  int32_t AddOp(ImportedOp op);
  ImportedOp NewOp(const onnx::NodeProto& node, ImportedOpKind kind,
                   std::vector<int32_t> inputs) const;
  // Kiln's natural shape for ONNX dims: [1,C,H,W] -> [H,W,C], [1,K] -> [K].
  std::vector<int32_t> KilnShape(const onnx::NodeProto& node,
                                 const std::vector<int64_t>& dims) const;
  // The tensor's value in the given Kiln shape (inserting a Reshape when
  // the layouts agree on the data order; error otherwise).
  int32_t ValueInShape(const onnx::NodeProto& node, const Tensor& tensor,
                       const std::vector<int32_t>& shape);
  // Emits a fully connected op reading `in` with weights [N, K] (ONNX
  // column order) and bias [N]; permutes columns for a flattened CHW input
  // and folds a pending Scaler. Returns the output tensor ([1, N]).
  // (onnx_lowering_linear.cc)
  Tensor EmitFullyConnected(const onnx::NodeProto& node, const Tensor& in,
                            const std::string& value_name, int64_t n,
                            std::vector<float> weights, std::vector<float> bias,
                            std::vector<float> weight_scales);
  // Rejects tensors a plain op cannot read (pending Scaler, CHW-flattened).
  void RequirePlain(const onnx::NodeProto& node, const Tensor& t,
                    bool allow_chw) const;

  // --- ai.onnx.ml (onnx_lowering_ml.cc) ---
  void LowerMlNode(const onnx::NodeProto& node);

  const onnx::ModelProto& model_;
  ImportedGraph* graph_;
  int64_t opset_ = 0;
  bool had_qdq_ = false;
  std::map<std::string, Entry> entries_;
  std::map<std::string, int> consumers_;
  std::map<std::string, bool> graph_outputs_;
  int node_index_ = 0;
  std::vector<int32_t> producer_;  // per value: the op writing it, or -1

 private:
  void LowerInput();
  void LowerNode(const onnx::NodeProto& node);
  void LowerOutputs();
  void CheckQuantized();
};

// Attribute access with type checks (a wrong type fails the node).
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node,
                                          const std::string& name);
int64_t AttrInt(const Lowerer& l, const onnx::NodeProto& node,
                const std::string& name, int64_t fallback);
float AttrFloat(const Lowerer& l, const onnx::NodeProto& node,
                const std::string& name, float fallback);
std::string AttrString(const Lowerer& l, const onnx::NodeProto& node,
                       const std::string& name, const std::string& fallback);
std::vector<int64_t> AttrInts(const Lowerer& l, const onnx::NodeProto& node,
                              const std::string& name,
                              const std::vector<int64_t>& fallback);
std::vector<float> AttrFloats(const Lowerer& l, const onnx::NodeProto& node,
                              const std::string& name,
                              const std::vector<float>& fallback);
std::vector<std::string> AttrStrings(const Lowerer& l,
                                     const onnx::NodeProto& node,
                                     const std::string& name);
std::string DimsString(const std::vector<int64_t>& dims);

// A TensorProto's data as a Constant; false + *why on bad dtype or size.
bool ConstantFromTensorProto(const onnx::TensorProto& tensor, Constant* out,
                             std::string* why);

// --- shared by the operator files ---

constexpr int64_t kMaxElements = std::numeric_limits<int32_t>::max();
// Kernel sizes, strides, dilations and pads beyond this are not images.
constexpr int64_t kMaxWindow = 1 << 16;

int64_t Product(const std::vector<int64_t>& dims, size_t from = 0);
// Data order is the same in ONNX and Kiln: [N, K], or [N, C, H, W] where
// either C or H*W is 1 (Kiln's [H, W, C] then lists the same elements in
// the same order).
bool LayoutNeutral(const std::vector<int64_t>& dims);
// The ONNX dims of input `index`, constant or tensor.
std::vector<int64_t> EntryDims(Lowerer& l, const onnx::NodeProto& node,
                               int index);
int64_t NormalizeAxis(Lowerer& l, const onnx::NodeProto& node, int64_t axis,
                      size_t rank);

// Output size of a sliding window on one spatial axis, resolving auto_pad.
struct WindowAxis {
  int64_t in = 0, kernel = 1, stride = 1, dilation = 1;
  int64_t pad_begin = 0, pad_end = 0, out = 0;
};
// Reads kernel/stride/dilation/pads attributes for the two spatial axes.
void ReadWindows(Lowerer& l, const onnx::NodeProto& node, int64_t h, int64_t w,
                 int64_t kh, int64_t kw, WindowAxis* ah, WindowAxis* aw);
// Kiln's options for the windows (stride, dilation, padding per axis).
Conv2DOptions ConvOptionsOf(const WindowAxis& ah, const WindowAxis& aw,
                            int64_t groups);
Pool2DOptions PoolOptionsOf(const WindowAxis& ah, const WindowAxis& aw);
// Adds `op` (a Conv2D or pool over the windows) with its output value, an
// ONNX [1, channels, ah.out, aw.out] tensor, as node's output 0.
void AddWindowedOp(Lowerer& l, const onnx::NodeProto& node, ImportedOp op,
                   int64_t channels, const WindowAxis& ah,
                   const WindowAxis& aw);

// A Pad's output as read by a Conv/AveragePool (onnx_lowering_layout.cc):
// the unpadded tensor, with *pads = {top, left, bottom, right} (zeros when
// `t` is no Pad's output); MovePadsIntoWindows then turns windows read on
// the padded dims into windows over the unpadded tensor with larger pads.
Tensor WithoutPendingPads(const Tensor& t, std::vector<int64_t>* pads);
void MovePadsIntoWindows(Lowerer& l, const onnx::NodeProto& node,
                         const std::vector<int64_t>& pads, WindowAxis* ah,
                         WindowAxis* aw);

// Add/Sub/Mul/Div of two constants (one may be a scalar).
Constant ConstantArithmetic(Lowerer& l, const onnx::NodeProto& node,
                            const Constant& a, const Constant& b);

// --- default-domain operators, one function per op_type family ---

// onnx_lowering_constants.cc
void LowerConstant(Lowerer& l, const onnx::NodeProto& node);
void LowerShape(Lowerer& l, const onnx::NodeProto& node);
void LowerGather(Lowerer& l, const onnx::NodeProto& node);
// onnx_lowering_linear.cc
void LowerConv(Lowerer& l, const onnx::NodeProto& node);
void LowerGemm(Lowerer& l, const onnx::NodeProto& node);
void LowerMatMul(Lowerer& l, const onnx::NodeProto& node);
void LowerArithmetic(Lowerer& l, const onnx::NodeProto& node);
void LowerBatchNorm(Lowerer& l, const onnx::NodeProto& node);
// onnx_lowering_activation.cc
void LowerActivation(Lowerer& l, const onnx::NodeProto& node);
void LowerSoftmaxOrSigmoid(Lowerer& l, const onnx::NodeProto& node);
// onnx_lowering_pool.cc
void LowerPool(Lowerer& l, const onnx::NodeProto& node);
void LowerGlobalAveragePool(Lowerer& l, const onnx::NodeProto& node);
// onnx_lowering_layout.cc
void LowerReshape(Lowerer& l, const onnx::NodeProto& node);
void LowerFlatten(Lowerer& l, const onnx::NodeProto& node);
void LowerSqueeze(Lowerer& l, const onnx::NodeProto& node);
void LowerUnsqueeze(Lowerer& l, const onnx::NodeProto& node);
void LowerConcat(Lowerer& l, const onnx::NodeProto& node);
void LowerPassThrough(Lowerer& l, const onnx::NodeProto& node);
void LowerPad(Lowerer& l, const onnx::NodeProto& node);
// onnx_lowering_qdq.cc
// onnx_lowering_metadata.cc: heads (labels, policy) of a Kiln-exported
// model, after the outputs are known.
void ApplyKilnHeadMetadata(const onnx::ModelProto& model, ImportedGraph* graph);

void LowerQuantize(Lowerer& l, const onnx::NodeProto& node);
void LowerDequantize(Lowerer& l, const onnx::NodeProto& node);

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ONNX_ONNX_LOWERING_H_
