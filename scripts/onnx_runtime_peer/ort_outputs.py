#!/usr/bin/python3
"""Runs ONNX Runtime (run_ort.sh) on every runnable model of a test-model
directory written by tests/onnx/models/make_models.py, and checks ORT
against the source framework:

  float and sklearn models  ORT vs the framework's outputs (max abs error,
                            within the manifest's tolerance)
  QDQ models                ORT int8 vs the float model's outputs (cosine,
                            top-1 agreement) and vs this repository's own
                            float simulation of the QDQ graph (in output
                            quantization steps); the op types of the graph
                            ORT really runs (QLinearConv, QGemm, ...)

Writes MODELS_DIR/ort/<model>.<output>.npy (ORT's outputs on the
evaluation set: what Kiln's INT8 outputs are compared with) and
MODELS_DIR/ort/report.json, prints a table, and exits 1 when a check fails,
77 when ONNX Runtime is not available.

usage: ort_outputs.py MODELS_DIR [--threads N]
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

try:
    import numpy as np
except ImportError:
    print("ort_outputs.py: numpy is not available; skipping", file=sys.stderr)
    sys.exit(SKIP)


def cosine(a, b):
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def run_ort(model, inputs, prefix, threads, optimized=None):
    cmd = [os.path.join(HERE, "run_ort.sh"), model, inputs, prefix, "--threads", str(threads)]
    if optimized:
        cmd += ["--optimized-model", optimized]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode == SKIP:
        print(proc.stderr.strip(), file=sys.stderr)
        sys.exit(SKIP)
    if proc.returncode != 0:
        raise RuntimeError(f"run_ort.sh {os.path.basename(model)} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def op_counts(path):
    import onnx  # Debian's python3-onnx; the counts are informative only
    counts = {}
    for node in onnx.load(path).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def check_float(name, entry, outputs, directory):
    tol = entry["tolerance"]
    result, ok = {}, True
    for out, file in entry["evaluation"]["outputs"].items():
        ref = np.load(os.path.join(directory, file))
        got = outputs[out]
        if got.dtype.kind in "iu":
            agree = float(np.mean(got.ravel() == ref.ravel()))
            result[out] = {"agreement": agree}
            ok &= agree == 1.0
            continue
        err = np.abs(got.astype(np.float64) - ref)
        limit = tol["abs"] + tol["rel"] * np.abs(ref)
        result[out] = {"max_abs": float(err.max()), "within_tolerance": bool((err <= limit).all())}
        ok &= result[out]["within_tolerance"]
    return result, ok


def check_qdq(name, entry, manifest, outputs, directory):
    float_entry = manifest["models"][entry["float_model"]]
    result, ok = {}, True
    for info in entry["outputs"]:
        out = info["name"]
        ref = np.load(os.path.join(directory, float_entry["evaluation"]["outputs"][out]))
        sim = np.load(os.path.join(directory, entry["evaluation"]["simulated_int8_outputs"][out]))
        got = outputs[out]
        step = info["quantization"]["scale"]
        steps = np.abs(got.astype(np.float64) - sim) / step
        r = {"cosine_vs_float": cosine(got, ref),
             "top1_vs_float": float(np.mean(got.argmax(1) == ref.argmax(1))),
             "max_abs_vs_float": float(np.abs(got - ref).max()),
             "max_steps_vs_simulation": float(np.round(steps.max(), 3)),
             "share_within_1_step_of_simulation": float(np.mean(steps <= 1.0 + 1e-3)),
             "output_step": step}
        ok &= r["cosine_vs_float"] >= entry["tolerance"]["cosine_min"]
        result[out] = r
    return result, ok


def main(argv):
    args = [a for a in argv[1:]]
    threads = 1
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        print("usage: ort_outputs.py MODELS_DIR [--threads N]", file=sys.stderr)
        return 2
    directory = os.path.abspath(args[0])
    if not os.path.exists(os.path.join(directory, "manifest.json")):
        print(f"ort_outputs.py: no manifest.json in {directory} (models not generated); "
              "skipping", file=sys.stderr)
        return SKIP
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    out_dir = os.path.join(directory, "ort")
    os.makedirs(out_dir, exist_ok=True)
    report, failed = {"models": {}}, []
    for name, entry in manifest["models"].items():
        if entry["kind"] not in ("float", "qdq", "sklearn"):
            continue
        optimized = os.path.join(out_dir, name + ".optimized.onnx")
        inputs = os.path.join(directory, entry["evaluation"]["input"])
        summary = run_ort(os.path.join(directory, entry["file"]), inputs,
                          os.path.join(out_dir, name + "."), threads, optimized)
        report["ort_version"] = summary.get("ort_version")
        outputs = {o: np.load(v["file"]) for o, v in summary["outputs"].items()}
        if entry["kind"] == "qdq":
            checks, ok = check_qdq(name, entry, manifest, outputs, directory)
        else:
            checks, ok = check_float(name, entry, outputs, directory)
        report["models"][name] = {
            "outputs": {o: os.path.basename(v["file"]) for o, v in summary["outputs"].items()},
            "checks": checks, "ok": bool(ok), "ort_optimized_ops": op_counts(optimized)}
        os.remove(optimized)  # large (resnet18); the op counts are what matters
        if not ok:
            failed.append(name)
        print(f"{name:30s} {'ok  ' if ok else 'FAIL'} {json.dumps(checks)}")
        if entry["kind"] == "qdq":
            print(f"{'':30s}      ORT runs: {report['models'][name]['ort_optimized_ops']}")
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
