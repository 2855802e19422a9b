// Heads of a model Kiln exported (onnx_export.h): its metadata_props name
// each head's labels and decision policy ("kiln.head.<output>.labels",
// "kiln.head.<output>.policy"), so `kiln import` of that file gives back
// heads with the same labels and policy instead of plain outputs. The
// metadata is as untrusted as the rest of the file: anything malformed is an
// error naming the key, never a guess.
#include <math.h>

#include <nlohmann/json.hpp>

#include "kiln/kiln.h"
#include "toolchain/onnx/onnx_lowering.h"

namespace kiln {
namespace onnx_import {
namespace lowering {
namespace {

using Json = nlohmann::json;

Json ParseJson(const std::string& key, const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw LoweringError("metadata '" + key + "': not valid JSON");
  return j;
}

std::vector<std::string> ParseLabels(const std::string& key,
                                     const std::string& text, int64_t classes) {
  const Json j = ParseJson(key, text);
  if (!j.is_array())
    throw LoweringError("metadata '" + key + "': not a JSON array");
  std::vector<std::string> labels;
  for (const Json& v : j) {
    if (!v.is_string())
      throw LoweringError("metadata '" + key + "': a label is not a string");
    labels.push_back(v.get<std::string>());
  }
  if (!labels.empty() && int64_t(labels.size()) != classes)
    throw LoweringError("metadata '" + key +
                        "': " + std::to_string(labels.size()) + " labels for " +
                        std::to_string(classes) + " classes");
  return labels;
}

DecisionPolicy ParsePolicy(const std::string& key, const std::string& text) {
  const Json j = ParseJson(key, text);
  const auto bad = [&](const std::string& why) {
    return LoweringError("metadata '" + key + "': " + why);
  };
  if (!j.is_object()) throw bad("not a JSON object");
  DecisionPolicy p;
  const auto top_k = j.find("top_k");
  if (top_k == j.end() || !top_k->is_number_integer() ||
      top_k->get<int64_t>() < 1 || top_k->get<int64_t>() > KILN_MAX_TOP_K)
    throw bad("top_k must be an integer in 1.." +
              std::to_string(KILN_MAX_TOP_K));
  p.top_k = int32_t(top_k->get<int64_t>());
  const auto kind = j.find("confidence");
  if (kind == j.end() || !kind->is_string()) throw bad("no confidence kind");
  bool known = false;
  for (ConfidenceKind k : {ConfidenceKind::kTop1Prob, ConfidenceKind::kTopKProb,
                           ConfidenceKind::kMargin}) {
    if (kind->get<std::string>() == ConfidenceKindName(k)) {
      p.confidence = k;
      known = true;
    }
  }
  if (!known)
    throw bad("unknown confidence '" + kind->get<std::string>() + "'");
  const auto threshold = j.find("threshold");
  if (threshold == j.end() || !threshold->is_number())
    throw bad("no numeric threshold");
  const double t = threshold->get<double>();
  if (!std::isfinite(t) || t < 0 || t > 1e30)
    throw bad("threshold out of range");
  p.threshold_real = float(t);
  return p;
}

}  // namespace

void ApplyKilnHeadMetadata(const onnx::ModelProto& model,
                           ImportedGraph* graph) {
  for (const auto& prop : model.metadata_props()) {
    const std::string& key = prop.key();
    const std::string prefix = "kiln.head.";
    if (key.rfind(prefix, 0) != 0) continue;
    const size_t dot = key.rfind('.');
    if (dot <= prefix.size()) continue;
    const std::string name = key.substr(prefix.size(), dot - prefix.size());
    const std::string field = key.substr(dot + 1);
    if (field != "labels" && field != "policy") continue;
    ImportedOutput* out = nullptr;
    for (ImportedOutput& o : graph->outputs)
      if (o.name == name) out = &o;
    if (out == nullptr)
      throw LoweringError("metadata '" + key + "': the graph has no output '" +
                          name + "'");
    // A Kiln head reads the output itself: its logits.
    if (out->logits < 0) out->logits = out->value;
    const int64_t classes = [&] {
      int64_t n = 1;
      for (int32_t d : graph->values[size_t(out->logits)].shape) n *= d;
      return n;
    }();
    if (field == "labels") {
      out->labels = ParseLabels(key, prop.value(), classes);
    } else {
      out->policy = ParsePolicy(key, prop.value());
    }
  }
}

}  // namespace lowering
}  // namespace onnx_import
}  // namespace kiln
