"""A small ONNX graph evaluator (float, torch.nn.functional underneath).

onnx 1.12 has no reference evaluator, and ONNX Runtime is not a Python
package here, so the quantizer needs its own way to see every intermediate
tensor of a float graph (min/max calibration), and make_models.py needs a
way to check that an exported graph computes what the torch module did.

Covers the default-domain ops the test models use. QuantizeLinear /
DequantizeLinear are simulated in float (round half to even, saturate), so a
QDQ graph evaluates to the "fake-quantized" result.
"""
import numpy as np
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.FLOATS:
            out[a.name] = list(a.floats)
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.TENSOR:
            out[a.name] = torch.from_numpy(numpy_helper.to_array(a.t).copy())
    return out


def _pads_2d(a, kernel):
    """ONNX pads [top, left, bottom, right] -> F.pad order, or symmetric."""
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError("auto_pad " + a["auto_pad"])
    pads = a.get("pads", [0, 0, 0, 0])
    return [pads[1], pads[3], pads[0], pads[2]]


def _conv(x, w, b, a):
    pads = _pads_2d(a, w.shape[2:])
    x = F.pad(x, pads)
    return F.conv2d(x, w, b, stride=a.get("strides", [1, 1]),
                    dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))


def _pool(kind, x, a):
    kernel = a["kernel_shape"]
    strides = a.get("strides", [1, 1])
    pads = _pads_2d(a, kernel)
    if kind == "max":
        x = F.pad(x, pads, value=-float("inf"))
        return F.max_pool2d(x, kernel, strides, ceil_mode=bool(a.get("ceil_mode", 0)))
    if pads != [0, 0, 0, 0] and not a.get("count_include_pad", 0):
        # divide by the number of real (unpadded) elements in each window
        ones = torch.ones_like(x[:1, :1])
        total = F.avg_pool2d(F.pad(x, pads), kernel, strides, divisor_override=1)
        count = F.avg_pool2d(F.pad(ones, pads), kernel, strides, divisor_override=1)
        return total / count
    return F.avg_pool2d(F.pad(x, pads), kernel, strides)


def _quantize(x, scale, zero, axis):
    dtype = zero.dtype
    lo, hi = (0, 255) if dtype == torch.uint8 else (-128, 127)
    scale, zero = _broadcast(scale, x, axis), _broadcast(zero, x, axis)
    q = torch.round(x / scale) + zero.to(x.dtype)
    return torch.clamp(q, lo, hi).to(dtype)


def _dequantize(q, scale, zero, axis):
    scale, zero = _broadcast(scale, q, axis), _broadcast(zero, q, axis)
    return (q.to(torch.float64) - zero.to(torch.float64)).to(scale.dtype) * scale


def _broadcast(p, x, axis):
    if p.dim() == 0:
        return p
    shape = [1] * x.dim()
    shape[axis % x.dim()] = -1
    return p.reshape(shape)


def _gemm(a, b, c, at):
    if at.get("transA", 0):
        a = a.t()
    if at.get("transB", 0):
        b = b.t()
    y = at.get("alpha", 1.0) * (a @ b)
    if c is not None:
        y = y + at.get("beta", 1.0) * c
    return y


def _reshape(x, shape, a):
    shape = [int(v) for v in shape.tolist()]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def _run_node(op, x, a):
    """x: list of input tensors (None for an omitted optional input)."""
    if op == "Conv":
        return _conv(x[0], x[1], x[2] if len(x) > 2 else None, a)
    if op == "Gemm":
        return _gemm(x[0], x[1], x[2] if len(x) > 2 else None, a)
    if op == "MatMul":
        return x[0] @ x[1]
    if op == "Add":
        return x[0] + x[1]
    if op == "Mul":
        return x[0] * x[1]
    if op == "Relu":
        return torch.relu(x[0])
    if op == "Clip":
        lo = x[1] if len(x) > 1 and x[1] is not None else None
        hi = x[2] if len(x) > 2 and x[2] is not None else None
        return torch.clamp(x[0], lo, hi)
    if op == "Sigmoid":
        return torch.sigmoid(x[0])
    if op == "Softmax":
        return torch.softmax(x[0], dim=a.get("axis", -1))
    if op == "BatchNormalization":
        return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
    if op == "GlobalAveragePool":
        return x[0].mean(dim=(2, 3), keepdim=True)
    if op == "AveragePool":
        return _pool("avg", x[0], a)
    if op == "MaxPool":
        return _pool("max", x[0], a)
    if op == "Flatten":
        axis = a.get("axis", 1)
        return x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
    if op == "Reshape":
        return _reshape(x[0], x[1], a)
    if op == "Concat":
        return torch.cat(x, dim=a["axis"])
    if op == "Identity":
        return x[0]
    if op == "Constant":
        return a["value"]
    if op == "QuantizeLinear":
        return _quantize(x[0], x[1], x[2], a.get("axis", 1))
    if op == "DequantizeLinear":
        return _dequantize(x[0], x[1], x[2], a.get("axis", 1))
    raise NotImplementedError("onnx_eval: no implementation of " + op)


def run(model, feeds, keep_all=False):
    """Evaluates `model` (a ModelProto) on `feeds` {input name: ndarray}.
    Returns {name: ndarray} for the graph outputs, or for every value when
    keep_all is set."""
    g = model.graph
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in g.initializer}
    for name, value in feeds.items():
        env[name] = torch.from_numpy(np.ascontiguousarray(value))
    with torch.no_grad():
        for node in g.node:
            if node.domain not in ("", "ai.onnx"):
                raise NotImplementedError(f"onnx_eval: domain {node.domain}")
            inputs = [env[i] if i else None for i in node.input]
            out = _run_node(node.op_type, inputs, _attrs(node))
            env[node.output[0]] = out
    names = list(env) if keep_all else [o.name for o in g.output]
    return {n: env[n].numpy() for n in names}


def value_ranges(model, batches, input_name):
    """Min and max of every float value (graph input and node outputs) over
    all `batches` of the input: what min/max calibration needs."""
    produced = {o for n in model.graph.node for o in n.output} | {input_name}
    ranges = {}
    for batch in batches:
        values = run(model, {input_name: batch}, keep_all=True)
        for name, v in values.items():
            if name not in produced or v.dtype != np.float32 or v.size == 0:
                continue
            lo, hi = float(v.min()), float(v.max())
            old = ranges.get(name)
            ranges[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return ranges
