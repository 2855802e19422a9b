#include "toolchain/train/fallback_calibration.h"

#include <stdio.h>

#include <algorithm>

#include "toolchain/atomic_file.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace train {
namespace {

bool Fail(std::string* error, const std::string& message) {
  if (error != nullptr) *error = message;
  return false;
}

// Highest threshold the builder stores for the kind.
int32_t ThresholdDomainMax(ConfidenceKind kind) {
  return kind == ConfidenceKind::kMargin ? 256 : 65536;
}

double ThresholdReal(int32_t threshold, ConfidenceKind kind, float scale) {
  if (kind == ConfidenceKind::kMargin) {
    return static_cast<double>(
        static_cast<float>(double(threshold) * double(scale)));
  }
  // Exact in float: threshold <= 65536 < 2^24.
  return static_cast<double>(threshold) / 65536.0;
}

// A model whose only work is the decision layer: the logits come in as the
// graph input and go straight out as the head's output.
bool DecisionModel(int32_t classes, float scale, int32_t zero_point,
                   const DecisionPolicy& policy, std::vector<uint8_t>* bytes,
                   std::string* error) {
  ModelBuilder b;
  b.SetModelName("decision-probe");
  b.SetModelVersion("1.0.0");
  const TensorId in =
      b.AddInput("in", DType::kInt8, {classes}, scale, zero_point);
  const TensorId logits = b.Reshape(in, {classes}, "logits");
  b.AddOutput(logits);
  b.AddHead("head", logits, {}, policy);
  return b.Build(bytes, error);
}

std::string Xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

bool RuntimeConfidences(const int8_t* logits, size_t n, int32_t classes,
                        float scale, int32_t zero_point, int32_t top_k,
                        ConfidenceKind kind, const std::vector<int32_t>& labels,
                        std::vector<int32_t>* confidence,
                        std::vector<uint8_t>* hit, std::string* error) {
  if (labels.size() != n) return Fail(error, "one label per item needed");
  std::vector<uint8_t> bytes;
  if (!DecisionModel(classes, scale, zero_point, {top_k, kind, 0.0f}, &bytes,
                     error)) {
    return false;
  }
  KilnRunner runner;
  if (!runner.Load(bytes, std::min<size_t>(std::max<size_t>(n, 1), 1024),
                   error)) {
    return false;
  }
  std::vector<kiln_decision> decisions;
  if (!runner.Run(logits, n, nullptr, &decisions, error)) return false;
  confidence->assign(n, 0);
  hit->assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const kiln_decision& d = decisions[i];
    (*confidence)[i] = d.confidence;
    for (int32_t j = 0; j < d.k; ++j) {
      if (d.class_id[j] == labels[i]) (*hit)[i] = 1;
    }
  }
  return true;
}

std::vector<CurvePoint> CoverageCurve(const std::vector<int32_t>& confidence,
                                      const std::vector<uint8_t>& hit,
                                      ConfidenceKind kind, float scale) {
  const size_t n = confidence.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  // Descending confidence; the index breaks ties (deterministic).
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return confidence[a] != confidence[b] ? confidence[a] > confidence[b]
                                          : a < b;
  });
  std::vector<CurvePoint> curve;
  auto add = [&](int32_t threshold, size_t accepted, size_t hits) {
    CurvePoint p;
    p.threshold = threshold;
    p.threshold_real = ThresholdReal(threshold, kind, scale);
    p.accepted = accepted;
    p.coverage = n == 0 ? 0.0 : double(accepted) / double(n);
    p.accuracy = accepted == 0 ? 1.0 : double(hits) / double(accepted);
    curve.push_back(p);
  };
  const int32_t top = n == 0 ? 0 : confidence[order[0]];
  if (top < ThresholdDomainMax(kind)) add(top + 1, 0, 0);
  size_t accepted = 0, hits = 0;
  for (size_t i = 0; i < n;) {
    const int32_t c = confidence[order[i]];
    while (i < n && confidence[order[i]] == c) {
      hits += hit[order[i]];
      ++accepted;
      ++i;
    }
    add(c, accepted, hits);
  }
  std::reverse(curve.begin(), curve.end());
  return curve;
}

bool CalibrateFallback(const int8_t* logits, size_t n, int32_t classes,
                       float scale, int32_t zero_point,
                       const std::vector<int32_t>& labels,
                       const FallbackOptions& options, HeadCalibration* result,
                       std::string* error) {
  *result = HeadCalibration();
  if (n == 0) return Fail(error, "no validation items");
  if (classes < 1) return Fail(error, "no classes");
  if (!(options.target >= 0.0 && options.target <= 1.0)) {
    return Fail(error, "the target accuracy must be in [0, 1]");
  }
  for (int32_t label : labels) {
    if (label < 0 || label >= classes) {
      return Fail(error, "label " + std::to_string(label) + " out of range");
    }
  }
  const int32_t kmax =
      std::min({classes, std::max(options.max_k, 1), int32_t{KILN_MAX_TOP_K}});
  int32_t best = -1;
  for (int32_t k = 1; k <= kmax; ++k) {
    std::vector<int32_t> confidence;
    std::vector<uint8_t> hit;
    if (!RuntimeConfidences(logits, n, classes, scale, zero_point, k,
                            options.confidence, labels, &confidence, &hit,
                            error)) {
      return false;
    }
    KCalibration kc;
    kc.top_k = k;
    kc.curve = CoverageCurve(confidence, hit, options.confidence, scale);
    // Largest coverage meeting the target; a curve point's accuracy is 1
    // when it accepts nothing, so that point always qualifies.
    const CurvePoint* chosen = nullptr;
    for (const CurvePoint& p : kc.curve) {
      if (p.accuracy >= options.target &&
          (chosen == nullptr || p.accepted > chosen->accepted)) {
        chosen = &p;
      }
    }
    kc.target_met = chosen != nullptr;
    kc.chosen = chosen != nullptr ? *chosen : kc.curve.back();
    result->per_k.push_back(kc);
    const KCalibration& b = result->per_k[best < 0 ? 0 : best - 1];
    if (best < 0 || (kc.target_met && !b.target_met) ||
        (kc.target_met == b.target_met &&
         kc.chosen.accepted > b.chosen.accepted)) {
      best = k;
    }
  }
  const KCalibration& chosen = result->per_k[best - 1];
  result->policy.top_k = best;
  result->policy.confidence = options.confidence;
  result->policy.threshold_real =
      static_cast<float>(chosen.chosen.threshold_real);
  result->threshold = chosen.chosen.threshold;
  result->target_met = chosen.target_met;
  result->coverage = chosen.chosen.coverage;
  result->accuracy = chosen.chosen.accuracy;

  // The builder must store exactly the threshold chosen on the grid.
  std::vector<uint8_t> bytes;
  if (!DecisionModel(classes, scale, zero_point, result->policy, &bytes,
                     error)) {
    return false;
  }
  KilnRunner runner;
  if (!runner.Load(bytes, 1, error)) return false;
  if (runner.head_info(0).threshold != result->threshold) {
    return Fail(error, "threshold " + std::to_string(result->threshold) +
                           " does not round-trip (stored " +
                           std::to_string(runner.head_info(0).threshold) + ")");
  }
  return true;
}

std::string CoverageSvg(const std::vector<CurvePoint>& curve,
                        const std::string& title, double target,
                        int32_t chosen_threshold, ConfidenceKind kind) {
  const double W = 640, H = 400, left = 60, right = 20, top = 40, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  double xmax = kind == ConfidenceKind::kMargin ? 0.0 : 1.0;
  for (const CurvePoint& p : curve) xmax = std::max(xmax, p.threshold_real);
  if (!(xmax > 0.0)) xmax = 1.0;
  auto X = [&](double v) { return left + pw * v / xmax; };
  auto Y = [&](double v) { return top + ph * (1.0 - v); };
  char buf[256];
  std::string s;
  snprintf(buf, sizeof(buf),
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
           "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
           "font-family=\"sans-serif\" font-size=\"12\">\n",
           W, H, W, H);
  s += buf;
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  snprintf(buf, sizeof(buf),
           "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" "
           "font-size=\"15\">",
           W / 2);
  s += buf + Xml(title) + "</text>\n";
  // Axes, grid and ticks.
  snprintf(buf, sizeof(buf),
           "<path d=\"M%.1f %.1f V%.1f H%.1f\" stroke=\"black\" "
           "fill=\"none\"/>\n",
           left, top, top + ph, left + pw);
  s += buf;
  for (int i = 0; i <= 4; ++i) {
    const double v = i / 4.0;
    snprintf(buf, sizeof(buf),
             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
             "stroke=\"#ddd\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
             "text-anchor=\"end\">%.2f</text>\n",
             left, Y(v), left + pw, Y(v), left - 6, Y(v) + 4, v);
    s += buf;
    snprintf(buf, sizeof(buf),
             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n",
             X(v * xmax), top + ph + 16, v * xmax);
    s += buf;
  }
  snprintf(buf, sizeof(buf),
           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">threshold "
           "(%s)</text>\n",
           left + pw / 2, H - 10,
           kind == ConfidenceKind::kMargin     ? "logit margin"
           : kind == ConfidenceKind::kTopKProb ? "top-k probability"
                                               : "top-1 probability");
  s += buf;
  snprintf(buf, sizeof(buf),
           "<text transform=\"translate(16 %.1f) rotate(-90)\" "
           "text-anchor=\"middle\">fraction</text>\n",
           top + ph / 2);
  s += buf;
  // Target and chosen threshold.
  snprintf(buf, sizeof(buf),
           "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
           "stroke=\"gray\" stroke-dasharray=\"5,4\"/>\n",
           left, Y(target), left + pw, Y(target));
  s += buf;
  for (const CurvePoint& p : curve) {
    if (p.threshold != chosen_threshold) continue;
    snprintf(buf, sizeof(buf),
             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
             "stroke=\"green\" stroke-dasharray=\"2,3\"/>\n",
             X(p.threshold_real), top, X(p.threshold_real), top + ph);
    s += buf;
  }
  // The two curves.
  const struct {
    const char* name;
    const char* color;
    bool coverage;
  } series[2] = {{"coverage", "#1f77b4", true}, {"accuracy", "#ff7f0e", false}};
  for (int k = 0; k < 2; ++k) {
    s += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"";
    s += series[k].color;
    s += "\" points=\"";
    for (size_t i = 0; i < curve.size(); ++i) {
      const CurvePoint& p = curve[i];
      snprintf(buf, sizeof(buf), "%s%.2f,%.2f", i == 0 ? "" : " ",
               X(p.threshold_real),
               Y(series[k].coverage ? p.coverage : p.accuracy));
      s += buf;
    }
    s += "\"/>\n";
    snprintf(
        buf, sizeof(buf), "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n",
        left + pw - 80, top + 14 + 16 * k, series[k].color, series[k].name);
    s += buf;
  }
  s += "</svg>\n";
  return s;
}

bool WriteCoverageSvg(const std::string& path,
                      const std::vector<CurvePoint>& curve,
                      const std::string& title, double target,
                      int32_t chosen_threshold, ConfidenceKind kind,
                      std::string* error) {
  const std::string svg =
      CoverageSvg(curve, title, target, chosen_threshold, kind);
  return WriteFileAtomic(path, std::vector<uint8_t>(svg.begin(), svg.end()),
                         error);
}

}  // namespace train
}  // namespace kiln
