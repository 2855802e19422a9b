#include "toolchain/train/search_space.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <utility>

namespace kiln {
namespace train {
namespace {

using nlohmann::json;

constexpr double kPi = 3.14159265358979323846;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Our own transforms of the generator's bits: std::uniform_real_distribution
// and std::normal_distribution differ between standard libraries.
double Uniform01(std::mt19937_64* rng) {  // [0, 1)
  return static_cast<double>((*rng)() >> 11) * 0x1.0p-53;
}
double UniformOpen01(std::mt19937_64* rng) {  // (0, 1)
  return (static_cast<double>((*rng)() >> 11) + 0.5) * 0x1.0p-53;
}
double StandardNormal(std::mt19937_64* rng) {  // Box-Muller
  const double u1 = UniformOpen01(rng), u2 = UniformOpen01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}
// An index in [0, n).
size_t UniformIndex(std::mt19937_64* rng, size_t n) {
  return std::min(n - 1, static_cast<size_t>(Uniform01(rng) * n));
}

const char* KindName(DistributionKind kind) {
  switch (kind) {
    case DistributionKind::kUniform:
      return "uniform";
    case DistributionKind::kLogUniform:
      return "log_uniform";
    case DistributionKind::kInt:
      return "int";
    case DistributionKind::kChoice:
      return "choice";
  }
  return "?";
}

// ---- Parsing ----------------------------------------------------------

bool ParseBounds(const json& v, const std::string& key, DistributionKind kind,
                 SearchParam* p, std::string* error) {
  const std::string what = std::string(KindName(kind));
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() ||
      !v[1].is_number()) {
    *error = key + ": \"" + what + "\" takes [low, high] (two numbers)";
    return false;
  }
  if (kind == DistributionKind::kInt &&
      (!v[0].is_number_integer() || !v[1].is_number_integer())) {
    *error = key + ": \"int\" bounds must be integers";
    return false;
  }
  p->low = v[0].get<double>();
  p->high = v[1].get<double>();
  if (!std::isfinite(p->low) || !std::isfinite(p->high) ||
      !(p->low < p->high)) {
    *error = key + ": \"" + what +
             "\" needs finite bounds with low < high (for a constant, set "
             "the value in the params file instead)";
    return false;
  }
  if (kind == DistributionKind::kInt &&
      (std::fabs(p->low) > 2147483647.0 || std::fabs(p->high) > 2147483647.0)) {
    *error = key + ": \"int\" bounds must fit in 32 bits";
    return false;
  }
  if (kind == DistributionKind::kLogUniform && !(p->low > 0)) {
    *error = key + ": \"log_uniform\" needs low > 0";
    return false;
  }
  return true;
}

bool ParseDistribution(const std::string& key, const json& v, SearchParam* p,
                       std::string* error) {
  static const char kExpected[] =
      "expected one of {\"uniform\": [low, high]}, {\"log_uniform\": [low, "
      "high]}, {\"int\": [low, high]}, {\"choice\": [values...]}";
  if (!v.is_object() || v.size() != 1) {
    *error = key + ": " + kExpected;
    return false;
  }
  const std::string kind = v.begin().key();
  const json& arg = v.begin().value();
  p->key = key;
  if (kind == "uniform") {
    p->kind = DistributionKind::kUniform;
  } else if (kind == "log_uniform") {
    p->kind = DistributionKind::kLogUniform;
  } else if (kind == "int") {
    p->kind = DistributionKind::kInt;
  } else if (kind == "choice") {
    p->kind = DistributionKind::kChoice;
    if (!arg.is_array() || arg.empty()) {
      *error = key + ": \"choice\" takes a non-empty array of values";
      return false;
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < arg.size(); ++i) {
      std::string text = arg[i].dump();
      if (!seen.insert(text).second) {
        *error = key + ": \"choice\" lists " + text + " twice";
        return false;
      }
      p->choices.push_back(std::move(text));
    }
    return true;
  } else {
    *error = key + ": unknown distribution \"" + kind + "\"; " + kExpected;
    return false;
  }
  return ParseBounds(arg, key, p->kind, p, error);
}

bool ParseOptions(const json& v, SearchOptions* o, std::string* error) {
  if (!v.is_object()) {
    *error = "search: expected an object";
    return false;
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    const json& x = *it;
    const std::string path = "search." + k;
    auto int_in = [&](int64_t lo, int64_t hi, int32_t* out) {
      if (!x.is_number_integer() || x.get<int64_t>() < lo ||
          x.get<int64_t>() > hi) {
        *error = path + ": expected an integer in [" + std::to_string(lo) +
                 ", " + std::to_string(hi) + "]";
        return false;
      }
      *out = static_cast<int32_t>(x.get<int64_t>());
      return true;
    };
    bool ok = true;
    if (k == "trials") {
      ok = int_in(1, 100000, &o->trials);
    } else if (k == "startup_trials") {
      ok = int_in(0, 100000, &o->startup_trials);
    } else if (k == "candidates") {
      ok = int_in(1, 100000, &o->candidates);
    } else if (k == "min_epochs") {
      ok = int_in(1, 100000, &o->min_epochs);
    } else if (k == "prune_min_trials") {
      ok = int_in(1, 100000, &o->prune_min_trials);
    } else if (k == "seed") {
      if (x.is_number_unsigned()) {
        o->seed = x.get<uint64_t>();
      } else {
        *error = path + ": expected a non-negative integer";
        ok = false;
      }
    } else if (k == "gamma") {
      if (!x.is_number() || !(x.get<double>() > 0) || !(x.get<double>() < 1)) {
        *error = path + ": expected a number in (0, 1)";
        ok = false;
      } else {
        o->gamma = x.get<double>();
      }
    } else if (k == "prune" || k == "include_base") {
      if (!x.is_boolean()) {
        *error = path + ": expected a boolean";
        ok = false;
      } else {
        (k == "prune" ? o->prune : o->include_base) = x.get<bool>();
      }
    } else if (k == "sampler") {
      if (x == "random") {
        o->sampler = SamplerKind::kRandom;
      } else if (x == "tpe") {
        o->sampler = SamplerKind::kTpe;
      } else {
        *error = path + ": expected \"random\" or \"tpe\"";
        ok = false;
      }
    } else {
      *error = path +
               ": unknown key (known: trials, sampler, seed, "
               "startup_trials, gamma, candidates, prune, min_epochs, "
               "prune_min_trials, include_base)";
      ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

// ---- Key paths --------------------------------------------------------

std::vector<std::string> SplitPath(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// The value at `key` in `root` (objects only), or null.
json* FindPath(json* root, const std::string& key) {
  json* node = root;
  for (const std::string& part : SplitPath(key)) {
    if (part.empty() || !node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::string PointText(const SearchSpace& space, const SearchPoint& point) {
  std::string text;
  for (size_t i = 0; i < space.params.size() && i < point.size(); ++i) {
    if (i) text += ", ";
    text +=
        space.params[i].key + "=" + SearchValueJson(space.params[i], point[i]);
  }
  return text;
}

// ---- TPE ----------------------------------------------------------------

// Where TPE models a parameter: log space for log_uniform, the integers
// widened by half a step for int.
double ToModel(const SearchParam& p, double value) {
  return p.kind == DistributionKind::kLogUniform ? std::log(value) : value;
}
void ModelBounds(const SearchParam& p, double* a, double* b) {
  if (p.kind == DistributionKind::kLogUniform) {
    *a = std::log(p.low);
    *b = std::log(p.high);
  } else if (p.kind == DistributionKind::kInt) {
    *a = p.low - 0.5;
    *b = p.high + 0.5;
  } else {
    *a = p.low;
    *b = p.high;
  }
}
double FromModel(const SearchParam& p, double x) {
  double v = p.kind == DistributionKind::kLogUniform ? std::exp(x) : x;
  if (p.kind == DistributionKind::kInt) v = std::round(v);
  return std::min(p.high, std::max(p.low, v));
}

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// An adaptive Parzen estimator on [a, b]: an equal-weight mixture of the
// uniform prior and one truncated Gaussian per observation, whose width is
// the larger gap to its neighbours (or the bounds), clipped to
// [(b - a) / min(100, n + 1), b - a] (as in hyperopt).
struct Parzen {
  double a = 0, b = 1;
  std::vector<double> mu, sigma, mass;
};

Parzen FitParzen(std::vector<double> obs, double a, double b) {
  Parzen p;
  p.a = a;
  p.b = b;
  std::sort(obs.begin(), obs.end());
  const size_t n = obs.size();
  const double range = b - a;
  const double min_sigma = range / std::min(100.0, n + 1.0);
  for (size_t i = 0; i < n; ++i) {
    const double left = obs[i] - (i == 0 ? a : obs[i - 1]);
    const double right = (i + 1 == n ? b : obs[i + 1]) - obs[i];
    const double s =
        std::min(range, std::max(min_sigma, std::max(left, right)));
    p.mu.push_back(obs[i]);
    p.sigma.push_back(s);
    p.mass.push_back(std::max(
        1e-300, NormalCdf((b - obs[i]) / s) - NormalCdf((a - obs[i]) / s)));
  }
  return p;
}

double ParzenLogDensity(const Parzen& p, double x) {
  double sum = 1.0 / (p.b - p.a);
  for (size_t i = 0; i < p.mu.size(); ++i) {
    const double z = (x - p.mu[i]) / p.sigma[i];
    sum += std::exp(-0.5 * z * z) /
           (p.sigma[i] * std::sqrt(2.0 * kPi) * p.mass[i]);
  }
  return std::log(sum / (p.mu.size() + 1.0));
}

double ParzenSample(const Parzen& p, std::mt19937_64* rng) {
  const size_t k = UniformIndex(rng, p.mu.size() + 1);
  if (k == p.mu.size()) return p.a + Uniform01(rng) * (p.b - p.a);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const double x = p.mu[k] + p.sigma[k] * StandardNormal(rng);
    if (x >= p.a && x <= p.b) return x;
  }
  return p.mu[k];  // practically unreachable: mass >= ~16% inside
}

// Smoothed counts: one pseudo-observation per choice.
std::vector<double> CategoricalLogProbs(const std::vector<double>& indices,
                                        size_t choices) {
  std::vector<double> counts(choices, 1.0);
  for (double i : indices) counts[static_cast<size_t>(i)] += 1.0;
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  for (double& c : counts) c = std::log(c / total);
  return counts;
}

double SampleFromLogProbs(const std::vector<double>& log_probs,
                          std::mt19937_64* rng) {
  double u = Uniform01(rng);
  for (size_t i = 0; i < log_probs.size(); ++i) {
    u -= std::exp(log_probs[i]);
    if (u < 0) return static_cast<double>(i);
  }
  return static_cast<double>(log_probs.size() - 1);
}

double BestUpTo(const std::vector<double>& curve, size_t epochs) {
  double best = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < epochs && i < curve.size(); ++i) {
    if (!std::isnan(curve[i])) best = std::max(best, curve[i]);
  }
  return best;
}

json NumberOrNull(double v) { return std::isfinite(v) ? json(v) : json(); }

}  // namespace

const char* SamplerName(SamplerKind kind) {
  return kind == SamplerKind::kTpe ? "tpe" : "random";
}

bool ParseSearchSpace(const std::string& json_text, SearchSpace* space,
                      std::string* error) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const std::exception& e) {
    *error = std::string("invalid JSON: ") + e.what();
    return false;
  }
  if (!root.is_object()) {
    *error = "(top level): expected an object of key path -> distribution";
    return false;
  }
  SearchSpace s;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "search") {
      if (!ParseOptions(*it, &s.options, error)) return false;
      continue;
    }
    SearchParam p;
    if (!ParseDistribution(it.key(), *it, &p, error)) return false;
    s.params.push_back(std::move(p));
  }
  if (s.params.empty()) {
    *error = "(top level): no parameter to search";
    return false;
  }
  // nlohmann::json objects iterate in key order: params are sorted.
  *space = std::move(s);
  return true;
}

bool LoadSearchSpace(const std::string& path, SearchSpace* space,
                     std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!ParseSearchSpace(text.str(), space, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

std::string SearchValueJson(const SearchParam& p, double value) {
  switch (p.kind) {
    case DistributionKind::kUniform:
    case DistributionKind::kLogUniform:
      return json(value).dump();
    case DistributionKind::kInt:
      return json(static_cast<int64_t>(std::llround(value))).dump();
    case DistributionKind::kChoice: {
      const size_t i = static_cast<size_t>(value);
      return i < p.choices.size() ? p.choices[i] : "null";
    }
  }
  return "null";
}

bool ApplySearchPoint(const SearchSpace& space, const TrainParams& base,
                      const SearchPoint& point, TrainParams* out,
                      std::string* error) {
  if (point.size() != space.params.size()) {
    *error = "a search point has " + std::to_string(point.size()) +
             " values for " + std::to_string(space.params.size()) +
             " parameters";
    return false;
  }
  json root = json::parse(TrainParamsJson(base));
  for (size_t i = 0; i < point.size(); ++i) {
    const SearchParam& p = space.params[i];
    json* slot = FindPath(&root, p.key);
    if (slot == nullptr) {
      *error = p.key + ": not a params key path";
      return false;
    }
    *slot = json::parse(SearchValueJson(p, point[i]));
  }
  std::string parse_error;
  if (!ParseTrainParams(root.dump(), out, &parse_error)) {
    *error = "the params parser rejects " + PointText(space, point) + ": " +
             parse_error;
    return false;
  }
  return true;
}

bool SearchPointOf(const SearchSpace& space, const TrainParams& params,
                   SearchPoint* point, std::string* error) {
  json root = json::parse(TrainParamsJson(params));
  SearchPoint out;
  for (const SearchParam& p : space.params) {
    const json* v = FindPath(&root, p.key);
    if (v == nullptr) {
      *error = p.key + ": not a params key path";
      return false;
    }
    if (p.kind == DistributionKind::kChoice) {
      size_t i = 0;
      while (i < p.choices.size() && json::parse(p.choices[i]) != *v) ++i;
      if (i == p.choices.size()) {
        *error =
            p.key + ": the value " + v->dump() + " is not among the choices";
        return false;
      }
      out.push_back(static_cast<double>(i));
      continue;
    }
    const bool integral = p.kind == DistributionKind::kInt;
    if (!v->is_number() || (integral && !v->is_number_integer()) ||
        !(v->get<double>() >= p.low && v->get<double>() <= p.high)) {
      *error = p.key + ": the value " + v->dump() + " is outside " +
               KindName(p.kind) + " [" + SearchValueJson(p, p.low) + ", " +
               SearchValueJson(p, p.high) + "]";
      return false;
    }
    out.push_back(v->get<double>());
  }
  *point = std::move(out);
  return true;
}

bool ValidateSearchSpace(const SearchSpace& space, const TrainParams& base,
                         std::string* error) {
  const json canonical = json::parse(TrainParamsJson(base));
  for (size_t i = 0; i < space.params.size(); ++i) {
    const std::string& key = space.params[i].key;
    const std::string top = SplitPath(key)[0];
    if (top != "model" && top != "training" && top != "distillation") {
      *error = key +
               ": not searchable: only model.*, training.* and "
               "distillation.* keys may vary (every trial uses the same "
               "dataset, splits and labels, and calibration/qat do not "
               "change the float valid accuracy being maximised)";
      return false;
    }
    json probe = canonical;
    if (FindPath(&probe, key) == nullptr) {
      *error = key + ": not a params key path (see toolchain/train/params.h)";
      return false;
    }
    for (size_t j = 0; j < space.params.size(); ++j) {
      const std::string& other = space.params[j].key;
      if (j != i && other.size() > key.size() &&
          other.compare(0, key.size() + 1, key + ".") == 0) {
        *error = other + ": lies inside " + key + ", also searched";
        return false;
      }
    }
  }
  // Each extreme and each choice, alone on top of the base params.
  for (const SearchParam& p : space.params) {
    std::vector<double> values;
    if (p.kind == DistributionKind::kChoice) {
      for (size_t c = 0; c < p.choices.size(); ++c) values.push_back(c);
    } else {
      values = {p.low, p.high};
    }
    for (double v : values) {
      json root = canonical;
      const std::string text = SearchValueJson(p, v);
      *FindPath(&root, p.key) = json::parse(text);
      TrainParams parsed;
      std::string parse_error;
      if (!ParseTrainParams(root.dump(), &parsed, &parse_error)) {
        *error = p.key + ": the params parser rejects the value " + text +
                 " (" + parse_error + ")";
        return false;
      }
    }
  }
  return true;
}

SearchPoint SampleRandom(const SearchSpace& space, std::mt19937_64* rng) {
  SearchPoint point;
  for (const SearchParam& p : space.params) {
    const double u = Uniform01(rng);
    double v = 0;
    switch (p.kind) {
      case DistributionKind::kUniform:
        v = p.low + u * (p.high - p.low);
        break;
      case DistributionKind::kLogUniform:
        v = std::exp(std::log(p.low) +
                     u * (std::log(p.high) - std::log(p.low)));
        break;
      case DistributionKind::kInt:
        v = p.low + std::floor(u * (p.high - p.low + 1));
        break;
      case DistributionKind::kChoice:
        v = static_cast<double>(std::min(
            p.choices.size() - 1, static_cast<size_t>(u * p.choices.size())));
        break;
    }
    if (p.kind != DistributionKind::kChoice) {
      v = std::min(p.high, std::max(p.low, v));
    }
    point.push_back(v);
  }
  return point;
}

SearchPoint SampleTpe(const SearchSpace& space, const SearchOptions& options,
                      const std::vector<SearchTrial>& history,
                      std::mt19937_64* rng) {
  std::vector<const SearchTrial*> done;
  for (const SearchTrial& t : history) {
    if (std::isfinite(t.objective) && t.point.size() == space.params.size()) {
      done.push_back(&t);
    }
  }
  if (done.size() < static_cast<size_t>(std::max(options.startup_trials, 2))) {
    return SampleRandom(space, rng);
  }
  // Best first; ties by trial number so the split is deterministic.
  std::stable_sort(done.begin(), done.end(),
                   [](const SearchTrial* x, const SearchTrial* y) {
                     return x->objective > y->objective;
                   });
  const size_t n = done.size();
  const size_t n_good = std::min(
      n - 1,
      std::max<size_t>(1, static_cast<size_t>(std::ceil(options.gamma * n))));
  SearchPoint point;
  for (size_t j = 0; j < space.params.size(); ++j) {
    const SearchParam& p = space.params[j];
    std::vector<double> good, bad;
    for (size_t k = 0; k < n; ++k) {
      (k < n_good ? good : bad).push_back(done[k]->point[j]);
    }
    double best_x = 0, best_score = -std::numeric_limits<double>::infinity();
    if (p.kind == DistributionKind::kChoice) {
      const std::vector<double> l = CategoricalLogProbs(good, p.choices.size());
      const std::vector<double> g = CategoricalLogProbs(bad, p.choices.size());
      for (int32_t c = 0; c < options.candidates; ++c) {
        const double x = SampleFromLogProbs(l, rng);
        const size_t i = static_cast<size_t>(x);
        const double score = l[i] - g[i];
        if (score > best_score) {
          best_score = score;
          best_x = x;
        }
      }
    } else {
      double a = 0, b = 0;
      ModelBounds(p, &a, &b);
      for (double& v : good) v = ToModel(p, v);
      for (double& v : bad) v = ToModel(p, v);
      const Parzen l = FitParzen(good, a, b), g = FitParzen(bad, a, b);
      for (int32_t c = 0; c < options.candidates; ++c) {
        const double x = FromModel(p, ParzenSample(l, rng));
        const double m = ToModel(p, x);
        const double score = ParzenLogDensity(l, m) - ParzenLogDensity(g, m);
        if (score > best_score) {
          best_score = score;
          best_x = x;
        }
      }
    }
    point.push_back(best_x);
  }
  return point;
}

bool ShouldPrune(const SearchOptions& options,
                 const std::vector<SearchTrial>& history,
                 const std::vector<double>& curve) {
  const size_t epoch = curve.size();
  if (!options.prune || epoch < static_cast<size_t>(options.min_epochs)) {
    return false;
  }
  std::vector<double> others;
  for (const SearchTrial& t : history) {
    if (t.curve.empty() || (t.pruned && t.curve.size() < epoch)) continue;
    others.push_back(BestUpTo(t.curve, epoch));
  }
  if (others.empty() ||
      others.size() < static_cast<size_t>(options.prune_min_trials)) {
    return false;
  }
  std::sort(others.begin(), others.end());
  const size_t m = others.size();
  const double median =
      m % 2 ? others[m / 2] : 0.5 * (others[m / 2 - 1] + others[m / 2]);
  return BestUpTo(curve, epoch) < median;
}

bool RunSearchTrials(const SearchSpace& space, const SearchObjective& objective,
                     const std::function<void(const SearchResult&)>& on_trial,
                     SearchResult* result, std::string* error,
                     const std::vector<SearchPoint>& queued) {
  const SearchOptions& o = space.options;
  std::mt19937_64 rng(o.seed);
  result->trials.clear();
  result->best = -1;
  for (int32_t number = 0; number < o.trials; ++number) {
    SearchTrial trial;
    trial.number = number;
    if (static_cast<size_t>(number) < queued.size()) {
      trial.point = queued[static_cast<size_t>(number)];
      if (trial.point.size() != space.params.size()) {
        *error = "queued point " + std::to_string(number) + " has " +
                 std::to_string(trial.point.size()) + " values for " +
                 std::to_string(space.params.size()) + " parameters";
        return false;
      }
    } else {
      trial.point = o.sampler == SamplerKind::kTpe
                        ? SampleTpe(space, o, result->trials, &rng)
                        : SampleRandom(space, &rng);
    }
    bool stopped = false;
    const EpochReport report = [&](double value) {
      if (stopped) return false;
      trial.curve.push_back(value);
      if (ShouldPrune(o, result->trials, trial.curve)) {
        stopped = trial.pruned = true;
        return false;
      }
      return true;
    };
    const auto start = std::chrono::steady_clock::now();
    double value = kNaN;
    std::string trial_error;
    if (!objective(trial, report, &value, &trial_error)) {
      *error = "trial " + std::to_string(number) + " (" +
               PointText(space, trial.point) + "): " + trial_error;
      return false;
    }
    trial.objective = value;
    trial.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    result->trials.push_back(std::move(trial));
    const SearchTrial& t = result->trials.back();
    if (std::isfinite(t.objective) &&
        (result->best < 0 ||
         t.objective >
             result->trials[static_cast<size_t>(result->best)].objective)) {
      result->best = number;
    }
    if (on_trial) on_trial(*result);
  }
  return true;
}

std::string SearchTrialsJson(const SearchSpace& space,
                             const SearchResult& result) {
  const SearchOptions& o = space.options;
  json j;
  j["objective"] = "best valid accuracy (float model, valid split)";
  j["options"] = {{"trials", o.trials},
                  {"sampler", SamplerName(o.sampler)},
                  {"seed", o.seed},
                  {"startup_trials", o.startup_trials},
                  {"gamma", o.gamma},
                  {"candidates", o.candidates},
                  {"prune", o.prune},
                  {"min_epochs", o.min_epochs},
                  {"prune_min_trials", o.prune_min_trials},
                  {"include_base", o.include_base}};
  json params = json::object();
  for (const SearchParam& p : space.params) {
    json arg = json::array();
    if (p.kind == DistributionKind::kChoice) {
      for (const std::string& c : p.choices) arg.push_back(json::parse(c));
    } else {
      arg = {json::parse(SearchValueJson(p, p.low)),
             json::parse(SearchValueJson(p, p.high))};
    }
    params[p.key] = {{KindName(p.kind), arg}};
  }
  j["space"] = params;
  json trials = json::array();
  for (const SearchTrial& t : result.trials) {
    json values = json::object();
    for (size_t i = 0; i < space.params.size() && i < t.point.size(); ++i) {
      values[space.params[i].key] =
          json::parse(SearchValueJson(space.params[i], t.point[i]));
    }
    json curve = json::array();
    for (double v : t.curve) curve.push_back(NumberOrNull(v));
    trials.push_back({{"trial", t.number},
                      {"values", values},
                      {"objective", NumberOrNull(t.objective)},
                      {"epochs", t.curve.size()},
                      {"pruned", t.pruned},
                      {"seconds", t.seconds},
                      {"curve", curve}});
  }
  j["trials"] = trials;
  j["best_trial"] = result.best >= 0 ? json(result.best) : json();
  j["best_objective"] =
      result.best >= 0
          ? NumberOrNull(
                result.trials[static_cast<size_t>(result.best)].objective)
          : json();
  return j.dump(2) + "\n";
}

}  // namespace train
}  // namespace kiln
