// Hyperparameter search: the search-space file, the samplers (random and
// TPE), the median stopping rule and the search loop. No LibTorch: the
// objective is a callback, so `kiln search` (search_command.cc) trains with
// it and the tests use synthetic objectives.
//
// A search-space file maps params key paths (params.h) to distributions;
// an optional "search" object holds the search's defaults:
//
//   {
//     "training.lr":           {"log_uniform": [1e-4, 1e-2]},
//     "training.label_smoothing": {"uniform": [0, 0.2]},
//     "training.epochs":       {"int": [5, 30]},          // inclusive
//     "training.batch_size":   {"choice": [32, 64, 128]},
//     "model.hidden":          {"choice": [[64], [128], [64, 64]]},
//     "search": {"trials": 20, "sampler": "tpe", "seed": 1,
//                "startup_trials": 5, "gamma": 0.25, "candidates": 24,
//                "prune": true, "min_epochs": 3, "prune_min_trials": 3,
//                "include_base": false}
//   }
//
// Only model.*, training.* and distillation.* keys are searchable: every
// trial is compared on the same valid split with the same labels, and
// calibration/qat keys do not change the float accuracy being maximised.
//
// A trial is the base params' canonical JSON (TrainParamsJson) with each
// key set to the trial's value, read back by ParseTrainParams; so the real
// parser validates every trial, and ValidateSearchSpace runs it on every
// distribution's extremes and choices before any trial starts.
//
// Determinism: the samplers draw from one std::mt19937_64 seeded with
// options.seed, through their own uniform and normal transforms (not the
// library's distributions), so the same seed and objective give the same
// trials with any standard library.
#ifndef KILN_TOOLCHAIN_TRAIN_SEARCH_SPACE_H_
#define KILN_TOOLCHAIN_TRAIN_SEARCH_SPACE_H_

#include <stdint.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "toolchain/train/params.h"

namespace kiln {
namespace train {

enum class DistributionKind {
  kUniform,     // {"uniform": [low, high]}: a real in [low, high]
  kLogUniform,  // {"log_uniform": [low, high]}: uniform in log space, low > 0
  kInt,         // {"int": [low, high]}: an integer in [low, high]
  kChoice,      // {"choice": [v0, v1, ...]}: any JSON values
};

struct SearchParam {
  std::string key;  // params key path, "training.lr"
  DistributionKind kind = DistributionKind::kUniform;
  double low = 0, high = 0;          // uniform, log_uniform, int
  std::vector<std::string> choices;  // choice: each value's JSON text
};

enum class SamplerKind { kRandom, kTpe };

struct SearchOptions {
  int32_t trials = 20;
  SamplerKind sampler = SamplerKind::kTpe;
  uint64_t seed = 1;
  // TPE (Bergstra et al. 2011): the first startup_trials are random; then
  // the finished trials are split by objective into the best `gamma`
  // fraction (model l) and the rest (model g), and each parameter takes the
  // one of `candidates` draws from l that maximises l(x) / g(x).
  int32_t startup_trials = 5;
  double gamma = 0.25;
  int32_t candidates = 24;
  // Median stopping rule: at epoch e >= min_epochs a trial stops if its
  // best value so far is below the median of the finished trials' best
  // values up to epoch e (a trial that ran fewer epochs unpruned counts with
  // its final best; a pruned one only if it reached e). Needs at least
  // prune_min_trials such trials.
  bool prune = true;
  int32_t min_epochs = 3;
  int32_t prune_min_trials = 3;
  // Run the base params' own values as trial 0 (they must lie in the
  // space), so the search's best is never worse than the base.
  bool include_base = false;
};

struct SearchSpace {
  std::vector<SearchParam> params;  // sorted by key
  SearchOptions options;            // defaults, then the file's "search"
};

// Parses a search-space file's text. False and *error ("<key>: <problem>")
// on malformed JSON, an unknown distribution, bad bounds or choices, or an
// unknown "search" option. Keys are not checked against the params here
// (see ValidateSearchSpace).
bool ParseSearchSpace(const std::string& json_text, SearchSpace* space,
                      std::string* error);
// Same, from a file; *error starts with the path.
bool LoadSearchSpace(const std::string& path, SearchSpace* space,
                     std::string* error);

// One trial's values, one per space.params entry: the real (uniform,
// log_uniform), the integer (int) or the choice's index (choice).
using SearchPoint = std::vector<double>;

// The JSON text a value is written as in the params: "0.003", "64",
// "[64,64]".
std::string SearchValueJson(const SearchParam& param, double value);

// base with every key set to the point's value, validated by
// ParseTrainParams. *error names the key and the value on failure.
bool ApplySearchPoint(const SearchSpace& space, const TrainParams& base,
                      const SearchPoint& point, TrainParams* out,
                      std::string* error);

// The point holding params' own values. False and *error ("<key>: ...")
// if one lies outside its distribution (or is not among the choices).
bool SearchPointOf(const SearchSpace& space, const TrainParams& params,
                   SearchPoint* point, std::string* error);

// Checks, before any trial: every key is searchable and names a value in
// base's canonical JSON, no key lies inside another, and the params parser
// accepts each distribution's low and high and each choice (with the other
// keys at base's values).
bool ValidateSearchSpace(const SearchSpace& space, const TrainParams& base,
                         std::string* error);

struct SearchTrial {
  int32_t number = 0;  // 0-based, in the order run
  SearchPoint point;
  std::vector<double> curve;  // the value reported after each epoch
  double objective = 0;       // from the objective; higher is better
  bool pruned = false;        // stopped by the median rule
  double seconds = 0;
};

// Called by the objective after each epoch with that epoch's value (valid
// accuracy); false means "stop this trial now".
using EpochReport = std::function<bool(double value)>;
// Runs one trial and sets *objective (NaN counts as the worst). False and
// *error abort the search.
using SearchObjective =
    std::function<bool(const SearchTrial& trial, const EpochReport& report,
                       double* objective, std::string* error)>;

struct SearchResult {
  std::vector<SearchTrial> trials;
  int32_t best = -1;  // index of the best trial; -1 while none is finite
};

// A uniform point of the space.
SearchPoint SampleRandom(const SearchSpace& space, std::mt19937_64* rng);
// A TPE point given the finished trials (random while fewer than
// max(startup_trials, 2) of them have a finite objective).
SearchPoint SampleTpe(const SearchSpace& space, const SearchOptions& options,
                      const std::vector<SearchTrial>& history,
                      std::mt19937_64* rng);
// The median stopping rule for a running trial whose values so far are
// `curve` (its current epoch is curve.size()).
bool ShouldPrune(const SearchOptions& options,
                 const std::vector<SearchTrial>& history,
                 const std::vector<double>& curve);

// Runs space.options.trials trials one after another: first the
// `queued` points (e.g. the base's, see SearchPointOf), then sampled ones.
// on_trial (may be null) sees the result after each trial. False and
// *error ("trial N (key=value, ...): ...") if the objective fails.
bool RunSearchTrials(const SearchSpace& space, const SearchObjective& objective,
                     const std::function<void(const SearchResult&)>& on_trial,
                     SearchResult* result, std::string* error,
                     const std::vector<SearchPoint>& queued = {});

// trials.json: the options, every trial (values by key, objective, epochs
// run, pruned, seconds, curve) and the best trial.
std::string SearchTrialsJson(const SearchSpace& space,
                             const SearchResult& result);

const char* SamplerName(SamplerKind kind);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_SEARCH_SPACE_H_
