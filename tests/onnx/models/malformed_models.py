"""ONNX files an importer must refuse with a clear error (and never crash
on): damaged bytes, protobufs that fail the checker or shape inference,
tensors whose data disagree with their shape, unsupported ops.

Each entry: name -> (bytes, reason, strings the error should mention).
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _tiny_gemm(weight=None, weight_dims=(4, 8), nodes=None, extra_inits=(), opset=13,
               input_dims=(1, 8)):
    """[1,8] -> Gemm(transB) 8->4 -> y: the base the broken variants start from."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [input_dims[0], weight_dims[0]])
    if weight is None:
        weight = numpy_helper.from_array(
            np.random.RandomState(5).randn(*weight_dims).astype(np.float32), "w")
    nodes = nodes or [helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm", transB=1)]
    graph = helper.make_graph(nodes, "malformed", [x], [y], [weight] + list(extra_inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="kiln-tests-malformed")
    model.ir_version = 8
    return model


def _bytes(model):
    return model.SerializeToString()


def build(valid_model_bytes):
    """`valid_model_bytes`: a good model (mlp160) to damage."""
    out = {}
    rng = np.random.RandomState(404)

    # error_mentions: names the error message must contain (a node name, an
    # op type, an initializer); empty when there is no name to give.
    out["malformed_empty"] = (b"", "zero-byte file", [])
    out["malformed_truncated"] = (valid_model_bytes[:len(valid_model_bytes) // 2],
                                  "mlp160.onnx cut in half: the protobuf ends inside a field",
                                  [])
    out["malformed_random_bytes"] = (rng.bytes(4096), "4 KiB of random bytes", [])

    # A well-formed protobuf that the checker rejects: a node reads a value
    # nothing produces.
    undefined = _tiny_gemm(nodes=[helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm",
                                                   transB=1),
                                  helper.make_node("Relu", ["nowhere"], ["y"], name="relu")])
    out["malformed_undefined_input"] = (_bytes(undefined),
                                        "valid protobuf; node 'relu' reads 'nowhere', which no "
                                        "node produces (checker error)", ["nowhere"])

    # Nodes not in topological order with a cycle: h1 <- h2 <- h1.
    cycle = _tiny_gemm(nodes=[helper.make_node("Relu", ["h2"], ["h1"], name="relu_a"),
                              helper.make_node("Relu", ["h1"], ["h2"], name="relu_b"),
                              helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm", transB=1)])
    out["malformed_cycle"] = (_bytes(cycle), "two Relu nodes feeding each other (checker error)",
                              ["relu_a"])

    # The graph is valid ONNX but uses an op Kiln does not lower.
    unsupported = _tiny_gemm(nodes=[helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm",
                                                     transB=1),
                                    helper.make_node("Cos", ["h"], ["y"], name="cosine_node")])
    out["unsupported_op"] = (_bytes(unsupported),
                             "valid model with a Cos node (named cosine_node) Kiln does not "
                             "support", ["cosine_node", "Cos"])

    custom = _tiny_gemm(nodes=[helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm",
                                                transB=1),
                               helper.make_node("Swizzle", ["h"], ["y"], name="custom_node",
                                                domain="com.example")])
    custom.opset_import.append(helper.make_opsetid("com.example", 1))
    out["unsupported_domain"] = (_bytes(custom), "an op from an unknown domain com.example",
                                 ["custom_node", "Swizzle"])

    # Initializer whose raw data is shorter than its dims say (4x8 floats
    # need 128 bytes, it has 100).
    short = onnx.TensorProto()
    short.name, short.data_type = "w", TensorProto.FLOAT
    short.dims.extend([4, 8])
    short.raw_data = rng.bytes(100)
    out["malformed_initializer_size"] = (_bytes(_tiny_gemm(weight=short)),
                                         "initializer 'w' is 4x8 float but holds 100 bytes",
                                         ["w"])

    # Initializer claiming 2^40 elements with no data at all.
    huge = onnx.TensorProto()
    huge.name, huge.data_type = "w", TensorProto.FLOAT
    huge.dims.extend([1 << 20, 1 << 20])
    out["malformed_initializer_huge"] = (_bytes(_tiny_gemm(weight=huge)),
                                         "initializer 'w' claims 2^40 floats and holds none",
                                         ["w"])

    # Initializer stored as external data: an importer must not go and
    # read files named inside an untrusted model.
    external = onnx.TensorProto()
    external.name, external.data_type = "w", TensorProto.FLOAT
    external.dims.extend([4, 8])
    external.data_location = TensorProto.EXTERNAL
    entry = external.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    out["malformed_external_data"] = (_bytes(_tiny_gemm(weight=external)),
                                      "initializer 'w' points at external data "
                                      "(../../etc/passwd)", ["w"])

    # Gemm with K mismatched: input [1,8], weights [4,5] (shape inference
    # error).
    out["malformed_shape_mismatch"] = (_bytes(_tiny_gemm(weight_dims=(4, 5))),
                                       "Gemm input is [1,8] but its weights are [4,5]",
                                       ["gemm"])

    # An opset from the future.
    out["malformed_future_opset"] = (_bytes(_tiny_gemm(opset=99)),
                                     "default-domain opset 99 (does not exist)", ["99"])
    return out
