#!/usr/bin/python3
"""Generates the ONNX test models, their inputs and the source framework's
outputs into OUT_DIR, and describes them all in OUT_DIR/manifest.json
(docs/onnx_test_models.md has the layout).

  float    mlp160, blocknet, resnet18, smallcnn: PyTorch 1.13 modules from
           fixed seeds, exported with torch.onnx.export (opset 13)
  qdq      mlp160_int8, blocknet_int8, resnet18_int8: the float graphs
           quantized by quantize_qdq.py (min/max calibration)
  sklearn  four scikit-learn models written as ai.onnx.ml nodes
  malformed  files an importer must refuse cleanly

usage: make_models.py OUT_DIR [--force]

Exit status 77 (ctest's SKIP_RETURN_CODE) when torch, onnx, numpy or
sklearn cannot be imported. When OUT_DIR/manifest.json was written by the
same generator sources it exits at once ("up to date"); --force rebuilds.
Deterministic: fixed seeds, one thread, no downloads.
"""
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

try:
    import numpy as np
    import onnx
    import sklearn
    import torch
except ImportError as e:  # not an error: the fixture is skipped
    print(f"make_models.py: skipped, {e}", file=sys.stderr)
    sys.exit(SKIP)

sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import malformed_models  # noqa: E402
import onnx_eval  # noqa: E402
import quantize_qdq  # noqa: E402
import sklearn_models  # noqa: E402
import torch_models  # noqa: E402

MANIFEST_VERSION = 1

# name -> per-item input shape, input distribution, calibration count,
# evaluation count, symbolic batch?, output names
TORCH_MODELS = {
    "mlp160": ((160,), "normal", 64, 256, True, ["output"]),
    "blocknet": ((3, 8, 8), "uniform01", 1024, 1024, True,
                 [h for h, _ in torch_models.BLOCKNET_HEADS]),
    "resnet18": ((3, 224, 224), "prototypes", 16, 100, False, ["output"]),
    "smallcnn": ((3, 32, 32), "normal", 64, 256, True, ["probabilities", "attributes"]),
}
DESCRIPTIONS = {
    "mlp160": "MLP 160->256->128->8 with ReLU (Gemm), symbolic batch",
    "blocknet": "3 depthwise-separable layers 3->32->64->64 at 8x8 (BatchNorm folded by the "
                "exporter), global average pool, 4 heads 64->32->{8,6,8,16}",
    "resnet18": "ResNet-18 (BasicBlock, 1000 classes), random convolutions, BatchNorm "
                "statistics estimated on the input distribution, final Linear set to a "
                "nearest-template classifier over 50 classes of smooth random prototype "
                "images (inputs: prototype + 0.5 N(0,1) noise)",
    "smallcnn": "small CNN: Conv+BatchNormalization node, MaxPool, Concat of a ReLU6 (Clip) and "
                "a ReLU branch, AveragePool, strided Conv, GlobalAveragePool, Reshape, "
                "Gemm+Softmax and Gemm+Sigmoid heads",
}
QDQ_MODELS = ["mlp160", "blocknet", "resnet18"]
# Seeds for the input sets: calibration and evaluation never share one.
CALIBRATION_SEED, EVALUATION_SEED = 1000, 2000


def sample(name, count, g):
    """(inputs, labels or None) from model `name`'s input distribution."""
    shape, dist, *_ = TORCH_MODELS[name]
    if dist == "uniform01":
        return torch.rand((count,) + shape, generator=g), None
    if dist == "prototypes":
        return torch_models.resnet18_samples(count, g)
    return torch.randn((count,) + shape, generator=g), None


def draw_inputs(name, count, seed):
    return sample(name, count, torch.Generator().manual_seed(seed + torch_models.SEEDS[name]))


def bn_sampler(name):
    return lambda batch, g: sample(name, batch, g)[0]


def run_torch(module, x, chunk):
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            y = module(x[i:i + chunk])
            outs.append(y if isinstance(y, tuple) else (y,))
    return [torch.cat([o[k] for o in outs]).numpy() for k in range(len(outs[0]))]


def run_onnx(model, x, chunk):
    """onnx_eval over x in chunks; a fixed batch dim forces its own chunk."""
    fixed = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value
    chunk = fixed or chunk
    name = model.graph.input[0].name
    parts = [onnx_eval.run(model, {name: x[i:i + chunk]}) for i in range(0, len(x), chunk)]
    return {o.name: np.concatenate([p[o.name] for p in parts]) for o in model.graph.output}


def keep_stem_batchnorm(model, module):
    """The exporter folds every BatchNorm into the conv before it. For
    smallcnn the stem's BatchNorm is put back as its own
    BatchNormalization node (the conv gets its unfolded weights and no
    bias), as exporters that do not fold write it, so that the importer's
    folding is tested. onnx_eval checks the result against torch."""
    from onnx import helper, numpy_helper
    graph = model.graph
    conv = next(n for n in graph.node if n.op_type == "Conv" and n.input[0] == "input")
    conv_module, bn = module.stem[0], module.stem[1]
    params = {"stem_conv_weight": conv_module.weight, "stem_bn_scale": bn.weight,
              "stem_bn_bias": bn.bias, "stem_bn_mean": bn.running_mean,
              "stem_bn_var": bn.running_var}
    for name, t in params.items():
        graph.initializer.append(numpy_helper.from_array(t.detach().numpy(), name))
    folded = set(conv.input[1:])
    bn_output = conv.output[0]
    conv.output[0] = "stem_conv_output"
    del conv.input[1:]
    conv.input.append("stem_conv_weight")
    bn_node = helper.make_node("BatchNormalization", ["stem_conv_output"] + list(params)[1:],
                               [bn_output], name="/stem/BatchNormalization", epsilon=bn.eps)
    nodes = list(graph.node)
    nodes.insert(nodes.index(conv) + 1, bn_node)
    del graph.node[:]
    graph.node.extend(nodes)
    keep = [i for i in graph.initializer if i.name not in folded]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return model


def export_torch(name, module, out_dir):
    shape, _, _, _, symbolic, outputs = TORCH_MODELS[name]
    path = os.path.join(out_dir, name + ".onnx")
    dynamic = None
    if symbolic:
        dynamic = {"input": {0: "N"}}
        dynamic.update({o: {0: "N"} for o in outputs})
    torch.onnx.export(module, torch.zeros((1,) + shape), path, opset_version=13,
                      input_names=["input"], output_names=outputs, dynamic_axes=dynamic,
                      do_constant_folding=True)
    model = onnx.load(path)
    if name == "smallcnn":
        model = keep_stem_batchnorm(model, module)
    model.doc_string = DESCRIPTIONS[name]
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return model


def save(out_dir, file_name, array):
    # C order always: predict_proba of a binary model is a transposed
    # (Fortran-order) view, which Kiln's .npy reader rightly refuses.
    np.save(os.path.join(out_dir, file_name), np.ascontiguousarray(array), allow_pickle=False)
    return file_name


def save_inputs(out_dir, prefix, x):
    """x as the framework sees it, plus an NHWC copy for images."""
    entry = {"count": int(x.shape[0]), "input": save(out_dir, prefix + ".npy", x),
             "input_nhwc": None}
    if x.ndim == 4:
        entry["input_nhwc"] = save(out_dir, prefix + "_nhwc.npy",
                                   np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    return entry


def tensor_info(value):
    t = value.type.tensor_type
    dims = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
    return {"name": value.name, "shape": dims,
            "dtype": onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[t.elem_type].name}


def cosine(a, b):
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def top1_agreement(a, b):
    return float(np.mean(a.argmax(axis=-1) == b.argmax(axis=-1)))


def torch_entry(name, out_dir, log):
    start = time.time()
    shape, _, n_calib, n_eval, symbolic, outputs = TORCH_MODELS[name]
    module = torch_models.build(name, bn_sampler(name))
    model = export_torch(name, module, out_dir)
    calib, _ = draw_inputs(name, n_calib, CALIBRATION_SEED)
    evaluation, labels = draw_inputs(name, n_eval, EVALUATION_SEED)
    chunk = 10 if name == "resnet18" else 1024
    reference = run_torch(module, evaluation, chunk)
    entry = {
        "file": name + ".onnx", "kind": "float", "source": "torch.onnx.export",
        "description": DESCRIPTIONS[name], "opset": 13,
        "inputs": [dict(tensor_info(model.graph.input[0]),
                        layout="NCHW" if len(shape) == 3 else "NC")],
        "outputs": [tensor_info(o) for o in model.graph.output],
        "ops": sorted({n.op_type for n in model.graph.node}),
        "calibration": save_inputs(out_dir, name + ".calib", calib.numpy()),
        "evaluation": save_inputs(out_dir, name + ".eval", evaluation.numpy()),
        # Kiln's float interpreter against the torch outputs: float32 with a
        # different summation order.
        "tolerance": {"abs": 1e-3 if name == "resnet18" else 1e-4,
                      "rel": 1e-3 if name == "resnet18" else 1e-4},
    }
    entry["evaluation"]["outputs"] = {
        o: save(out_dir, f"{name}.eval.{o}.npy", r) for o, r in zip(outputs, reference)}
    if labels is not None:
        entry["evaluation"]["labels"] = save(out_dir, name + ".eval.labels.npy",
                                             labels.numpy().astype(np.int64))
    # The exported graph must compute what the module does.
    from_onnx = run_onnx(model, evaluation.numpy(), chunk)
    entry["checks"] = {"onnx_eval_vs_torch_max_abs": max(
        float(np.abs(from_onnx[o] - r).max()) for o, r in zip(outputs, reference))}
    if labels is not None:
        entry["checks"]["float_top1_vs_labels"] = float(
            np.mean(reference[0].argmax(axis=1) == labels.numpy()))
    if entry["checks"]["onnx_eval_vs_torch_max_abs"] > entry["tolerance"]["abs"]:
        raise RuntimeError(f"{name}: exported graph differs from torch: {entry['checks']}")
    log(f"{name}: {entry['ops']} ({time.time() - start:.1f} s)")
    return entry, model, calib.numpy(), evaluation.numpy(), dict(zip(outputs, reference))


def qdq_entry(name, float_entry, float_model, calib, evaluation, reference, out_dir, log):
    start = time.time()
    qmodel, summary, output_params = quantize_qdq.quantize_with_calibration(float_model, calib)
    qmodel.doc_string = f"{name} quantized to INT8 QDQ by tests/onnx/models/quantize_qdq.py"
    file_name = name + "_int8.onnx"
    onnx.save(qmodel, os.path.join(out_dir, file_name))
    chunk = 10 if name == "resnet18" else 1024
    simulated = run_onnx(qmodel, evaluation, chunk)
    outputs = []
    for o in qmodel.graph.output:
        info = tensor_info(o)
        scale, zero = output_params[o.name]
        info["quantization"] = {"scale": float(scale), "zero_point": int(zero), "dtype": "uint8"}
        outputs.append(info)
    checks = {"simulated_int8_vs_float_cosine": {
        o: cosine(simulated[o], reference[o]) for o in reference}}
    if name == "resnet18":
        checks["simulated_int8_vs_float_top1"] = top1_agreement(simulated["output"],
                                                                reference["output"])
    entry = {
        "file": file_name, "kind": "qdq", "source": "quantize_qdq.py",
        "description": "INT8 QDQ (uint8 activations per tensor, int8 weights per channel, "
                       "int32 biases) of " + name,
        "float_model": name, "opset": 13,
        "inputs": float_entry["inputs"], "outputs": outputs,
        "ops": sorted({n.op_type for n in qmodel.graph.node}),
        "calibration": float_entry["calibration"],
        "evaluation": dict(float_entry["evaluation"], simulated_int8_outputs={
            o: save(out_dir, f"{name}_int8.eval.{o}.simulated.npy", v)
            for o, v in simulated.items()}),
        # Against the float model's outputs (evaluation.outputs); against ONNX
        # Runtime on this same file: within ort_steps output quantization steps.
        "tolerance": {"cosine_min": 0.99, "ort_steps": 1},
        "quantizer": summary, "checks": checks,
    }
    if name == "resnet18":
        entry["tolerance"]["top1_agreement_min"] = 0.99
    log(f"{file_name}: {summary} {checks} ({time.time() - start:.1f} s)")
    return entry


def sklearn_entry(name, info, out_dir):
    model = info["model"]
    file_name = name + ".onnx"
    onnx.save(model, os.path.join(out_dir, file_name))
    entry = {
        "file": file_name, "kind": "sklearn", "source": "scikit-learn + onnx.helper",
        "description": info["description"], "opset": 13, "ml_opset": 3,
        "inputs": [dict(tensor_info(model.graph.input[0]), layout="NC")],
        "outputs": [tensor_info(o) for o in model.graph.output],
        "ops": sorted({n.op_type for n in model.graph.node}),
        "calibration": save_inputs(out_dir, name + ".calib", info["calibration"]),
        "evaluation": save_inputs(out_dir, name + ".eval", info["evaluation"]),
        "tolerance": info["tolerance"],
    }
    entry["evaluation"]["outputs"] = {
        o: save(out_dir, f"{name}.eval.{o}.npy", v) for o, v in info["outputs"].items()}
    if "accuracy" in info:
        entry["checks"] = {"sklearn_accuracy_on_evaluation": info["accuracy"]}
    return entry


def generator_hash():
    h = hashlib.sha256()
    for f in sorted(os.listdir(HERE)):
        if f.endswith(".py"):
            with open(os.path.join(HERE, f), "rb") as fh:
                h.update(f.encode() + b"\0" + fh.read())
    h.update(f"{torch.__version__} {onnx.__version__} {np.__version__} "
             f"{sklearn.__version__}".encode())
    return h.hexdigest()


def up_to_date(out_dir, digest):
    path = os.path.join(out_dir, "manifest.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get("generator_hash") != digest:
        return False
    files = [m["file"] for m in manifest["models"].values()]
    return all(os.path.exists(os.path.join(out_dir, f)) for f in files)


def main(argv):
    args = [a for a in argv[1:] if a != "--force"]
    if len(args) != 1:
        print("usage: make_models.py OUT_DIR [--force]", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(args[0])
    digest = generator_hash()
    if "--force" not in argv and up_to_date(out_dir, digest):
        print(f"make_models.py: {out_dir} is up to date")
        return 0
    os.makedirs(out_dir, exist_ok=True)
    # Remove the manifest first: a run that dies half way must not leave a
    # manifest describing files from another generation.
    if os.path.exists(os.path.join(out_dir, "manifest.json")):
        os.remove(os.path.join(out_dir, "manifest.json"))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    start = time.time()

    def log(text):
        print(f"[{time.time() - start:5.1f} s] {text}", flush=True)

    models = {}
    for name in TORCH_MODELS:
        entry, model, calib, evaluation, reference = torch_entry(name, out_dir, log)
        models[name] = entry
        if name in QDQ_MODELS:
            models[name + "_int8"] = qdq_entry(name, entry, model, calib, evaluation, reference,
                                               out_dir, log)
    for make in sklearn_models.ALL:
        name, info = make()
        models[name] = sklearn_entry(name, info, out_dir)
        log(f"{name}: {models[name]['ops']}")
    with open(os.path.join(out_dir, "mlp160.onnx"), "rb") as f:
        valid = f.read()
    for name, (data, reason, mentions) in malformed_models.build(valid).items():
        with open(os.path.join(out_dir, name + ".onnx"), "wb") as f:
            f.write(data)
        models[name] = {"file": name + ".onnx", "kind": "malformed", "reason": reason,
                        "error_mentions": mentions}
    log(f"{len(models)} models")

    manifest = {"version": MANIFEST_VERSION, "generator": "tests/onnx/models/make_models.py",
                "generator_hash": digest,
                "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                             "numpy": np.__version__, "sklearn": sklearn.__version__},
                "models": models}
    tmp = os.path.join(out_dir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "manifest.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
