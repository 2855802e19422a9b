#!/usr/bin/python3
"""Post-training static INT8 quantization of a float ONNX graph into the QDQ
format (QuantizeLinear/DequantizeLinear pairs), written with onnx.helper
only: onnxruntime's Python quantizer is not installable here.

The scheme is the one ONNX Runtime's x86 kernels fuse into QLinearConv /
QGemm / QLinearAdd / QLinearGlobalAveragePool ("U8S8"):

  activations  uint8, asymmetric, one scale and zero point per tensor, from
               the min and max seen on a calibration set (the range always
               includes 0, so that 0 is exact);
  weights      int8, symmetric (zero point 0, values in [-127, 127]), one
               scale per output channel: Conv axis 0, Gemm axis 0 when
               transB=1 (else 1), MatMul axis 1;
  biases       int32, scale = input scale * weight scale of the channel,
               zero point 0;
  Relu         a Relu (or Clip(0, x)) right after a Conv/Gemm/MatMul/Add is
               kept in the graph with the QuantizeLinear AFTER it; its
               calibrated minimum is 0, so its zero point is 0 and ORT
               drops the Relu when it fuses the group;
  MaxPool, Flatten, Reshape  reuse the scale and zero point of their input,
               so they can run on uint8 directly.

Graph outputs produced by a quantized op are quantized too: the value a
consumer sees is DequantizeLinear(QuantizeLinear(x)), on the output's
uint8 grid, which is what "within one quantization step" is measured in.

usage (standalone): quantize_qdq.py FLOAT.onnx CALIB.npy OUT.onnx
"""
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import numpy as np
import onnx
from onnx import helper, numpy_helper

import onnx_eval

QUANTIZED_OPS = {"Conv", "Gemm", "MatMul", "Add", "GlobalAveragePool", "AveragePool",
                 "MaxPool", "Concat", "Flatten", "Reshape"}
SAME_SCALE_OPS = {"MaxPool", "Flatten", "Reshape"}
WEIGHTED_OPS = {"Conv", "Gemm", "MatMul"}
ACTIVATION_OPS = {"Relu", "Clip"}


def activation_params(lo, hi):
    """uint8 scale and zero point covering [min(lo, 0), max(hi, 0)]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = np.float32((hi - lo) / 255.0)
    zero = int(np.clip(np.round(-lo / float(scale)), 0, 255))
    return scale, np.uint8(zero)


def weight_axis(node):
    if node.op_type == "Conv":
        return 0
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return 1  # MatMul: B is [K, N], channels along N


def _is_relu_like(node, constants):
    if node.op_type == "Relu":
        return True
    if node.op_type == "Clip" and len(node.input) > 1 and node.input[1] in constants:
        return float(constants[node.input[1]]) == 0.0
    return False


class _Graph:
    """Producer/consumer maps over a graph, for the rewrite below."""

    def __init__(self, graph):
        self.graph = graph
        self.constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.producer = {}
        self.consumers = {}
        for node in graph.node:
            for o in node.output:
                self.producer[o] = node
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
        self.outputs = {o.name for o in graph.output}

    def activation_inputs(self, node):
        """Inputs of a quantized op that are activations (not constants)."""
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            names = node.input[:1]
        elif node.op_type in ("Reshape",):
            names = node.input[:1]
        else:
            names = node.input
        return [n for n in names if n and n not in self.constants]

    def quantized_output(self, node):
        """The value that carries `node`'s quantized result: its single
        Relu-like consumer's output when there is one, else its own."""
        out = node.output[0]
        users = self.consumers.get(out, [])
        if (node.op_type in ("Conv", "Gemm", "MatMul", "Add") and len(users) == 1
                and out not in self.outputs and _is_relu_like(users[0], self.constants)):
            return users[0].output[0]
        return out


def choose_values(g):
    """The activation values that get a QuantizeLinear/DequantizeLinear
    pair, in graph order."""
    chosen = []
    for node in g.graph.node:
        if node.op_type not in QUANTIZED_OPS:
            continue
        for name in g.activation_inputs(node) + [g.quantized_output(node)]:
            if name not in chosen:
                chosen.append(name)
    return chosen


def choose_params(g, chosen, ranges):
    params = {}
    for name in chosen:  # graph order: an op's input is decided before its output
        node = g.producer.get(name)
        if node is not None and node.op_type in SAME_SCALE_OPS and node.input[0] in params:
            params[name] = params[node.input[0]]
        elif name not in ranges:
            raise ValueError(f"no calibration range for {name}")
        else:
            params[name] = activation_params(*ranges[name])
    return params


def quantize(model, ranges):
    """Returns a QDQ copy of `model` (float ONNX, opset >= 13) given the
    calibrated (min, max) of its values, and a summary dict."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    del graph.value_info[:]
    g = _Graph(graph)
    chosen = choose_values(g)
    params = choose_params(g, chosen, ranges)
    new_nodes, new_inits = [], []

    def constant(name, array):
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    # 1. activations: x -> Q -> DQ -> every former consumer of x. A graph
    # output keeps its name: the producer now writes x_float instead.
    rename = {}
    for name in chosen:
        scale, zero = params[name]
        s = constant(name + "_scale", np.array(scale, np.float32))
        z = constant(name + "_zero_point", np.array(zero, np.uint8))
        source, dequantized = name, name + "_dequantized"
        if name in g.outputs:
            source, dequantized = name + "_float", name
            node = g.producer[name]
            node.output[list(node.output).index(name)] = source
        else:
            rename[name] = dequantized
        new_nodes.append(helper.make_node("QuantizeLinear", [source, s, z], [name + "_quantized"],
                                          name=name + "_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", s, z],
                                          [dequantized], name=name + "_DequantizeLinear"))
    for node in graph.node:
        for k, i in enumerate(node.input):
            if i in rename:
                node.input[k] = rename[i]

    # 2. weights (int8 per channel) and biases (int32)
    weighted = 0
    for node in graph.node:
        if node.op_type not in WEIGHTED_OPS or node.input[1] not in g.constants:
            continue
        x = node.input[0][:-len("_dequantized")] if node.input[0].endswith("_dequantized") \
            else node.input[0]
        if x not in params:
            continue
        w = g.constants[node.input[1]].astype(np.float32)
        axis = weight_axis(node)
        others = tuple(d for d in range(w.ndim) if d != axis)
        w_scale = (np.maximum(np.abs(w).max(axis=others), 1e-12) / 127.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        w_q = np.clip(np.round(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
        base = node.input[1]
        new_nodes.append(helper.make_node(
            "DequantizeLinear",
            [constant(base + "_quantized", w_q), constant(base + "_scale", w_scale),
             constant(base + "_zero_point", np.zeros(w_scale.shape, np.int8))],
            [base + "_dequantized"], name=base + "_DequantizeLinear", axis=axis))
        node.input[1] = base + "_dequantized"
        if len(node.input) > 2 and node.input[2] in g.constants:
            b = g.constants[node.input[2]].astype(np.float64)
            b_scale = (np.float64(params[x][0]) * w_scale.astype(np.float64)).astype(np.float32)
            b_q = np.clip(np.round(b / b_scale), -2**31, 2**31 - 1).astype(np.int32)
            base = node.input[2]
            new_nodes.append(helper.make_node(
                "DequantizeLinear",
                [constant(base + "_quantized", b_q), constant(base + "_scale", b_scale),
                 constant(base + "_zero_point", np.zeros(b_scale.shape, np.int32))],
                [base + "_dequantized"], name=base + "_DequantizeLinear", axis=0))
            node.input[2] = base + "_dequantized"
        weighted += 1

    nodes = list(graph.node) + new_nodes
    used = {i for n in nodes for i in n.input}
    inits = [i for i in graph.initializer if i.name in used] + new_inits
    del graph.initializer[:]
    graph.initializer.extend(inits)
    del graph.node[:]
    graph.node.extend(_topological_order(nodes, {i.name for i in graph.input} |
                                         {i.name for i in inits}))
    onnx.checker.check_model(model)
    summary = {"quantized_values": len(chosen), "weighted_ops": weighted}
    output_params = {o: params[o] for o in g.outputs if o in params}
    return model, summary, output_params


def _topological_order(nodes, available):
    """Kahn's algorithm keeping the given order among ready nodes, so every
    QuantizeLinear lands right after the node that produces its input."""
    available = set(available) | {""}
    done, pending = [], list(nodes)
    while pending:
        progress = False
        rest = []
        for node in pending:
            if all(i in available for i in node.input):
                done.append(node)
                available.update(node.output)
                progress = True
            else:
                rest.append(node)
        if not progress:
            raise ValueError("graph has a cycle or an undefined input: " +
                             ", ".join(n.name or n.op_type for n in rest[:4]))
        pending = rest
    return done


def quantize_with_calibration(model, calibration, batch=256):
    """Calibrates on `calibration` (the float input array, batch first) with
    onnx_eval and quantizes."""
    name = model.graph.input[0].name
    batches = [calibration[i:i + batch] for i in range(0, len(calibration), batch)]
    fixed = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value
    if fixed:  # a fixed batch dim: feed that many samples at a time
        batches = [calibration[i:i + fixed] for i in range(0, len(calibration), fixed)]
    ranges = onnx_eval.value_ranges(model, batches, name)
    return quantize(model, ranges)


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    model = onnx.load(argv[1])
    qmodel, summary, _ = quantize_with_calibration(model, np.load(argv[2]).astype(np.float32))
    onnx.save(qmodel, argv[3])
    print(f"{argv[3]}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
