#include "toolchain/train/params.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

namespace kiln {
namespace train {
namespace {

using nlohmann::json;

// Reads one object's keys strictly: Take*() consume known keys, Finish()
// rejects whatever is left. The first error sticks.
class ObjectReader {
 public:
  ObjectReader(const json& value, std::string path, std::string* error)
      : value_(value), path_(std::move(path)), error_(error) {
    if (!value_.is_object()) Fail(path_, "expected an object");
  }

  bool ok() const { return ok_; }

  const json* Get(const std::string& key) {
    if (!ok_) return nullptr;
    seen_.insert(key);
    auto it = value_.find(key);
    if (it == value_.end()) return nullptr;
    return &*it;
  }
  std::string Path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  void Bool(const std::string& key, bool* out) {
    const json* v = Get(key);
    if (!v) return;
    if (!v->is_boolean()) return Fail(Path(key), "expected a boolean");
    *out = v->get<bool>();
  }
  void Double(const std::string& key, double* out, double lo, double hi) {
    const json* v = Get(key);
    if (!v) return;
    if (!v->is_number()) return Fail(Path(key), "expected a number");
    double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) {
      std::ostringstream m;
      m << "must be in [" << lo << ", " << hi << "]";
      return Fail(Path(key), m.str());
    }
    *out = d;
  }
  void Float(const std::string& key, float* out, double lo, double hi) {
    double d = *out;
    Double(key, &d, lo, hi);
    *out = static_cast<float>(d);
  }
  void Int(const std::string& key, int32_t* out, int64_t lo, int64_t hi) {
    const json* v = Get(key);
    if (!v) return;
    if (!v->is_number_integer()) return Fail(Path(key), "expected an integer");
    int64_t i =
        v->is_number_unsigned()
            ? static_cast<int64_t>(std::min<uint64_t>(
                  v->get<uint64_t>(),
                  static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
            : v->get<int64_t>();
    if (i < lo || i > hi) {
      std::ostringstream m;
      m << "must be in [" << lo << ", " << hi << "]";
      return Fail(Path(key), m.str());
    }
    *out = static_cast<int32_t>(i);
  }
  void U64(const std::string& key, uint64_t* out) {
    const json* v = Get(key);
    if (!v) return;
    if (v->is_number_unsigned()) {
      *out = v->get<uint64_t>();
    } else if (v->is_number_integer() && v->get<int64_t>() >= 0) {
      *out = static_cast<uint64_t>(v->get<int64_t>());
    } else {
      Fail(Path(key), "expected a non-negative integer");
    }
  }
  void String(const std::string& key, std::string* out) {
    const json* v = Get(key);
    if (!v) return;
    if (!v->is_string()) return Fail(Path(key), "expected a string");
    *out = v->get<std::string>();
  }
  // One of `names`; *out gets its index.
  template <typename E>
  void Enum(const std::string& key, E* out,
            const std::vector<std::pair<std::string, E>>& names) {
    const json* v = Get(key);
    if (!v) return;
    std::string accepted;
    for (const auto& n : names)
      accepted += (accepted.empty() ? "\"" : ", \"") + n.first + "\"";
    if (!v->is_string())
      return Fail(Path(key), "expected a string, one of " + accepted);
    for (const auto& n : names) {
      if (v->get<std::string>() == n.first) {
        *out = n.second;
        return;
      }
    }
    Fail(Path(key), "unknown value \"" + v->get<std::string>() +
                        "\"; expected one of " + accepted);
  }
  void IntList(const std::string& key, std::vector<int32_t>* out, int64_t lo,
               int64_t hi) {
    const json* v = Get(key);
    if (!v) return;
    if (!v->is_array()) return Fail(Path(key), "expected an array");
    std::vector<int32_t> result;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      std::string p = Path(key) + "[" + std::to_string(i) + "]";
      if (!e.is_number_integer()) return Fail(p, "expected an integer");
      int64_t x = e.get<int64_t>();
      if (x < lo || x > hi) {
        std::ostringstream m;
        m << "must be in [" << lo << ", " << hi << "]";
        return Fail(p, m.str());
      }
      result.push_back(static_cast<int32_t>(x));
    }
    *out = result;
  }

  void Finish() {
    if (!ok_) return;
    for (auto it = value_.begin(); it != value_.end(); ++it) {
      if (!seen_.count(it.key())) return Fail(Path(it.key()), "unknown key");
    }
  }

  void Fail(const std::string& path, const std::string& message) {
    if (!ok_) return;
    ok_ = false;
    *error_ =
        (path.empty() ? std::string("(top level)") : path) + ": " + message;
  }

 private:
  const json& value_;
  std::string path_;
  std::string* error_;
  std::set<std::string> seen_;
  bool ok_ = true;
};

bool ParseHeads(const json& v, const std::string& path,
                std::vector<HeadParams>* heads, std::string* error) {
  if (!v.is_array()) {
    *error = path + ": expected an array";
    return false;
  }
  std::set<std::string> names;
  heads->clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    ObjectReader r(v[i], p, error);
    HeadParams head;
    r.String("name", &head.name);
    if (r.ok() && head.name.empty()) r.Fail(r.Path("name"), "required");
    if (r.ok() && !names.insert(head.name).second)
      r.Fail(r.Path("name"), "duplicate head name \"" + head.name + "\"");
    if (const json* m = r.Get("map")) {
      if (!m->is_object()) {
        r.Fail(r.Path("map"), "expected an object");
      } else {
        for (auto it = m->begin(); it != m->end() && r.ok(); ++it) {
          std::string mp = r.Path("map") + "." + it.key();
          if (!it->is_array() || it->empty()) {
            r.Fail(mp, "expected a non-empty array of class names");
            break;
          }
          for (const json& c : *it) {
            if (!c.is_string()) {
              r.Fail(mp, "expected class names (strings)");
              break;
            }
            head.map[it.key()].push_back(c.get<std::string>());
          }
        }
      }
    }
    r.Finish();
    if (!r.ok()) return false;
    heads->push_back(head);
  }
  return true;
}

}  // namespace

bool ParseTrainParams(const std::string& json_text, TrainParams* params,
                      std::string* error) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const std::exception& e) {
    *error = std::string("params: invalid JSON: ") + e.what();
    return false;
  }
  TrainParams p;
  ObjectReader top(root, "", error);
  top.String("dataset", &p.dataset);
  if (const json* v = top.Get("split")) {
    ObjectReader r(*v, "split", error);
    r.Double("train", &p.split.train, 0, 1);
    r.Double("valid", &p.split.valid, 0, 1);
    r.Double("test", &p.split.test, 0, 1);
    r.U64("seed", &p.split.seed);
    r.Bool("honour_source_splits", &p.split.honour_source_splits);
    r.String("manifest", &p.split.manifest);
    r.Finish();
    if (!r.ok()) return false;
    if (std::fabs(p.split.train + p.split.valid + p.split.test - 1.0) > 1e-9) {
      *error = "split: train + valid + test must be 1";
      return false;
    }
  }
  if (const json* v = top.Get("model")) {
    ObjectReader r(*v, "model", error);
    r.Enum<ModelKind>("kind", &p.model.kind,
                      {{"mlp", ModelKind::kMlp},
                       {"cnn", ModelKind::kCnn},
                       {"multitask", ModelKind::kMultitask}});
    r.IntList("hidden", &p.model.hidden, 1, 1 << 16);
    r.IntList("channels", &p.model.channels, 1, 4096);
    r.Int("convs_per_block", &p.model.convs_per_block, 1, 8);
    r.Enum<CnnHead>(
        "head", &p.model.head,
        {{"gap", CnnHead::kGlobalAveragePool}, {"flatten", CnnHead::kFlatten}});
    if (const json* h = r.Get("heads")) {
      if (!ParseHeads(*h, "model.heads", &p.model.heads, error)) return false;
    }
    r.Finish();
    if (!r.ok()) return false;
    if (p.model.kind != ModelKind::kMlp && p.model.channels.empty()) {
      *error = "model.channels: a cnn/multitask model needs at least one block";
      return false;
    }
    if (p.model.kind == ModelKind::kMultitask && p.model.heads.empty()) {
      *error = "model.heads: a multitask model needs at least one head";
      return false;
    }
    if (p.model.kind != ModelKind::kMultitask && !p.model.heads.empty()) {
      *error = "model.heads: only a multitask model has heads";
      return false;
    }
  }
  if (const json* v = top.Get("training")) {
    ObjectReader r(*v, "training", error);
    TrainingParams& t = p.training;
    r.Int("epochs", &t.epochs, 1, 100000);
    r.Int("batch_size", &t.batch_size, 1, 1 << 20);
    r.Double("lr", &t.lr, 0, 10);
    r.Double("weight_decay", &t.weight_decay, 0, 10);
    r.Double("warmup_epochs", &t.warmup_epochs, 0, 100000);
    r.Double("label_smoothing", &t.label_smoothing, 0, 0.999);
    r.Enum<LossKind>(
        "loss", &t.loss,
        {{"ce", LossKind::kCrossEntropy}, {"focal", LossKind::kFocal}});
    r.Double("focal_gamma", &t.focal_gamma, 0, 10);
    r.Enum<ClassWeights>(
        "class_weights", &t.class_weights,
        {{"none", ClassWeights::kNone}, {"balanced", ClassWeights::kBalanced}});
    r.Int("patience", &t.patience, 0, 100000);
    r.U64("seed", &t.seed);
    r.Int("threads", &t.threads, 1, 256);
    if (const json* a = r.Get("augmentation")) {
      ObjectReader ar(*a, "training.augmentation", error);
      ar.Bool("hflip", &t.augmentation.hflip);
      ar.Int("max_shift_pixels", &t.augmentation.max_shift_pixels, 0, 64);
      ar.Float("brightness", &t.augmentation.brightness, 0, 1);
      ar.Float("noise_std", &t.augmentation.noise_std, 0, 10);
      ar.Finish();
      if (!ar.ok()) return false;
    }
    r.Finish();
    if (!r.ok()) return false;
  }
  if (const json* v = top.Get("calibration")) {
    ObjectReader r(*v, "calibration", error);
    r.Enum<CalibrationMethod>("method", &p.calibration.method,
                              {{"minmax", CalibrationMethod::kMinMax},
                               {"percentile", CalibrationMethod::kPercentile},
                               {"kl", CalibrationMethod::kKl}});
    r.Double("percentile", &p.calibration.percentile, 50, 100);
    if (r.ok() && p.calibration.percentile <= 50) {
      r.Fail("calibration.percentile", "must be in (50, 100]");
    }
    r.Int("samples", &p.calibration.samples, 1, 1 << 24);
    r.Int("bins", &p.calibration.bins, 128, 1 << 16);
    r.Finish();
    if (!r.ok()) return false;
  }
  if (const json* v = top.Get("distillation")) {
    ObjectReader r(*v, "distillation", error);
    r.String("teacher", &p.distillation.teacher);
    r.Double("alpha", &p.distillation.alpha, 0, 1);
    r.Double("temperature", &p.distillation.temperature, 0.01, 100);
    r.Finish();
    if (!r.ok()) return false;
  }
  if (const json* v = top.Get("qat")) {
    ObjectReader r(*v, "qat", error);
    r.Int("epochs", &p.qat.epochs, 0, 100000);
    r.Double("lr", &p.qat.lr, 0, 10);
    r.Int("batch_size", &p.qat.batch_size, 1, 1 << 20);
    r.Finish();
    if (!r.ok()) return false;
  }
  top.String("relabels", &p.relabels);
  top.Finish();
  if (!top.ok()) return false;
  *params = p;
  return true;
}

bool LoadTrainParams(const std::string& path, TrainParams* params,
                     std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!ParseTrainParams(text.str(), params, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

std::string TrainParamsJson(const TrainParams& p) {
  // nlohmann::json objects are std::map-ordered: keys come out sorted.
  json j;
  j["dataset"] = p.dataset;
  j["split"] = {{"train", p.split.train},
                {"valid", p.split.valid},
                {"test", p.split.test},
                {"seed", p.split.seed},
                {"honour_source_splits", p.split.honour_source_splits},
                {"manifest", p.split.manifest}};
  static const char* kKinds[] = {"mlp", "cnn", "multitask"};
  json model = {
      {"kind", kKinds[static_cast<int>(p.model.kind)]},
      {"hidden", p.model.hidden},
      {"channels", p.model.channels},
      {"convs_per_block", p.model.convs_per_block},
      {"head",
       p.model.head == CnnHead::kGlobalAveragePool ? "gap" : "flatten"}};
  json heads = json::array();
  for (const HeadParams& h : p.model.heads) {
    json head = {{"name", h.name}};
    if (!h.map.empty()) head["map"] = h.map;
    heads.push_back(head);
  }
  model["heads"] = heads;
  j["model"] = model;
  const TrainingParams& t = p.training;
  j["training"] = {
      {"epochs", t.epochs},
      {"batch_size", t.batch_size},
      {"lr", t.lr},
      {"weight_decay", t.weight_decay},
      {"warmup_epochs", t.warmup_epochs},
      {"label_smoothing", t.label_smoothing},
      {"loss", t.loss == LossKind::kFocal ? "focal" : "ce"},
      {"focal_gamma", t.focal_gamma},
      {"class_weights",
       t.class_weights == ClassWeights::kBalanced ? "balanced" : "none"},
      {"patience", t.patience},
      {"seed", t.seed},
      {"threads", t.threads},
      {"augmentation",
       {{"hflip", t.augmentation.hflip},
        {"max_shift_pixels", t.augmentation.max_shift_pixels},
        {"brightness", t.augmentation.brightness},
        {"noise_std", t.augmentation.noise_std}}}};
  static const char* kMethods[] = {"minmax", "percentile", "kl"};
  j["calibration"] = {
      {"method", kMethods[static_cast<int>(p.calibration.method)]},
      {"percentile", p.calibration.percentile},
      {"samples", p.calibration.samples},
      {"bins", p.calibration.bins}};
  j["distillation"] = {{"teacher", p.distillation.teacher},
                       {"alpha", p.distillation.alpha},
                       {"temperature", p.distillation.temperature}};
  j["qat"] = {{"epochs", p.qat.epochs},
              {"lr", p.qat.lr},
              {"batch_size", p.qat.batch_size}};
  j["relabels"] = p.relabels;
  return j.dump(2);
}

}  // namespace train
}  // namespace kiln
