"""scikit-learn models trained on sklearn's bundled datasets and converted
by hand to ONNX ai.onnx.ml nodes (skl2onnx is not available): the node
layout follows what the ONNX-ML operator specification defines, with ZipMap
left out so the probabilities are a plain float tensor.

Every model has one float input "X" [N, features] and outputs
  classifiers  "label" int64 [N] and "probabilities" float [N, classes]
  regressor    "variable" float [N, 1]
"""
import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import Normalizer, StandardScaler

OPSETS = [helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)]


def _split(n, seed, calib, evaluation):
    """Disjoint index sets: train (the rest), calibration (drawn from the
    training part, as a deployment would), evaluation (held out)."""
    order = np.random.RandomState(seed).permutation(n)
    ev, train = order[:evaluation], order[evaluation:]
    return train, train[:calib], ev


def _model(name, nodes, features, outputs, doc):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", features])
    graph = helper.make_graph(nodes, name, [x], outputs)
    model = helper.make_model(graph, opset_imports=OPSETS, producer_name="kiln-tests-sklearn",
                              doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _classifier_outputs(classes):
    return [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])]


def _linear_classifier(clf, input_name, name):
    """LogisticRegression -> LinearClassifier. A binary model has one
    coefficient row w: written as the two rows [-w, w] (intercepts [-b, b])
    with a LOGISTIC post transform, which gives [1 - p, p] exactly as
    predict_proba does. A multinomial model uses SOFTMAX."""
    coef = clf.coef_.astype(np.float64)
    intercept = clf.intercept_.astype(np.float64)
    if coef.shape[0] == 1:
        coef = np.vstack([-coef, coef])
        intercept = np.concatenate([-intercept, intercept])
        transform = "LOGISTIC"
    else:
        transform = "SOFTMAX"
    return helper.make_node(
        "LinearClassifier", [input_name], ["label", "probabilities"], name=name,
        domain="ai.onnx.ml", coefficients=coef.astype(np.float32).ravel().tolist(),
        intercepts=intercept.astype(np.float32).tolist(),
        classlabels_ints=[int(c) for c in clf.classes_], post_transform=transform,
        multi_class=0)


def _result(name, model, x, calib, ev, outputs, tolerance, description, extra=None):
    info = {"model": model, "calibration": x[calib].astype(np.float32),
            "evaluation": x[ev].astype(np.float32), "outputs": outputs,
            "tolerance": tolerance, "description": description}
    info.update(extra or {})
    return name, info


def logreg_digits():
    data = load_digits()
    x, y = data.data, data.target
    train, calib, ev = _split(len(x), 7, 200, 400)
    clf = LogisticRegression(multi_class="multinomial", max_iter=2000, C=0.05)
    clf.fit(x[train], y[train])
    model = _model("logreg_digits", [_linear_classifier(clf, "X", "linear_classifier")], 64,
                   _classifier_outputs(10),
                   "LogisticRegression (multinomial) on sklearn load_digits")
    outputs = {"label": clf.predict(x[ev]).astype(np.int64),
               "probabilities": clf.predict_proba(x[ev]).astype(np.float32)}
    return _result("logreg_digits", model, x, calib, ev, outputs, {"abs": 1e-4, "rel": 1e-4},
                   "multinomial LogisticRegression, load_digits (64 features, 10 classes)",
                   {"accuracy": float(np.mean(clf.predict(x[ev]) == y[ev]))})


def scaled_logreg_breast_cancer():
    data = load_breast_cancer()
    x, y = data.data, data.target
    train, calib, ev = _split(len(x), 11, 100, 169)
    scaler = StandardScaler().fit(x[train])
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(x[train]), y[train])
    scale = (1.0 / scaler.scale_).astype(np.float32)
    nodes = [helper.make_node("Scaler", ["X"], ["X_scaled"], name="standard_scaler",
                              domain="ai.onnx.ml", offset=scaler.mean_.astype(np.float32).tolist(),
                              scale=scale.tolist()),
             _linear_classifier(clf, "X_scaled", "linear_classifier")]
    model = _model("scaled_logreg_breast_cancer", nodes, 30, _classifier_outputs(2),
                   "StandardScaler + binary LogisticRegression on sklearn load_breast_cancer")
    xe = scaler.transform(x[ev])
    outputs = {"label": clf.predict(xe).astype(np.int64),
               "probabilities": clf.predict_proba(xe).astype(np.float32)}
    return _result("scaled_logreg_breast_cancer", model, x, calib, ev, outputs,
                   {"abs": 1e-4, "rel": 1e-4},
                   "StandardScaler (Scaler node) -> binary LogisticRegression, "
                   "load_breast_cancer (30 features)",
                   {"accuracy": float(np.mean(clf.predict(xe) == y[ev]))})


def linreg_diabetes():
    data = load_diabetes()
    x, y = data.data, data.target
    train, calib, ev = _split(len(x), 13, 100, 142)
    reg = LinearRegression().fit(x[train], y[train])
    node = helper.make_node("LinearRegressor", ["X"], ["variable"], name="linear_regressor",
                            domain="ai.onnx.ml", coefficients=reg.coef_.astype(np.float32).tolist(),
                            intercepts=[float(np.float32(reg.intercept_))], targets=1,
                            post_transform="NONE")
    out = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, ["N", 1])]
    model = _model("linreg_diabetes", [node], 10, out, "LinearRegression on sklearn load_diabetes")
    outputs = {"variable": reg.predict(x[ev]).reshape(-1, 1).astype(np.float32)}
    # targets are around 25..350: a float32 relative tolerance fits best
    return _result("linreg_diabetes", model, x, calib, ev, outputs, {"abs": 1e-3, "rel": 1e-5},
                   "LinearRegression (LinearRegressor node), load_diabetes (10 features)")


def normalized_logreg_iris():
    data = load_iris()
    x, y = data.data, data.target
    train, calib, ev = _split(len(x), 17, 30, 50)
    norm = Normalizer(norm="l2")
    clf = LogisticRegression(multi_class="multinomial", max_iter=5000, C=100.0)
    clf.fit(norm.transform(x[train]), y[train])
    nodes = [helper.make_node("Normalizer", ["X"], ["X_normalized"], name="l2_normalizer",
                              domain="ai.onnx.ml", norm="L2"),
             _linear_classifier(clf, "X_normalized", "linear_classifier")]
    model = _model("normalized_logreg_iris", nodes, 4, _classifier_outputs(3),
                   "Normalizer(l2) + LogisticRegression on sklearn load_iris")
    xe = norm.transform(x[ev])
    outputs = {"label": clf.predict(xe).astype(np.int64),
               "probabilities": clf.predict_proba(xe).astype(np.float32)}
    return _result("normalized_logreg_iris", model, x, calib, ev, outputs,
                   {"abs": 1e-4, "rel": 1e-4},
                   "Normalizer(L2) -> multinomial LogisticRegression, load_iris (4 features)",
                   {"accuracy": float(np.mean(clf.predict(xe) == y[ev]))})


ALL = [logreg_digits, scaled_logreg_breast_cancer, linreg_diabetes, normalized_logreg_iris]
