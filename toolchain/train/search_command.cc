// `kiln search PARAMS SPACE --out DIR`: hyperparameter search. Each trial
// is the base params with the space's keys set (search_space.h), trained
// with TrainFromParams on the base params' splits; its objective is the
// best valid accuracy of the float model, and the median stopping rule
// prunes it through TrainHooks::on_epoch. Writes DIR/best_params.json (the
// best trial's full canonical params) and DIR/trials.json after every
// trial, atomically.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/data/sources.h"
#include "toolchain/train/params.h"
#include "toolchain/train/search_space.h"
#include "toolchain/train/trainer.h"
#include "toolchain/train/training_data.h"

namespace kiln {
namespace cli {

const char kSearchUsage[] =
    "usage: kiln search PARAMS.json SPACE.json --out DIR [--trials N]\n"
    "                   [--sampler random|tpe] [--seed S] [--min-epochs E]\n"
    "                   [--no-prune] [--include-base] [--json] [--quiet]\n"
    "\n"
    "Hyperparameter search. SPACE.json maps params key paths to\n"
    "distributions, e.g. {\"training.lr\": {\"log_uniform\": [1e-4, 1e-2]},\n"
    "\"training.epochs\": {\"int\": [5, 30]}, \"model.hidden\": {\"choice\":\n"
    "[[64], [128]]}}, plus optional \"search\" defaults (see docs/search.md).\n"
    "Each trial trains PARAMS.json with the keys set to sampled values, on\n"
    "PARAMS.json's splits, and scores the best valid accuracy of the float\n"
    "model. Trials below the median of the finished ones after E epochs\n"
    "(default 3) are stopped early.\n"
    "\n"
    "  --trials N       trials to run (default 20, or the space's)\n"
    "  --sampler S      random, or tpe (default: Tree-structured Parzen\n"
    "                   Estimator after 5 random trials)\n"
    "  --seed S         sampler seed (default 1); same seed, same trials\n"
    "  --min-epochs E   never stop a trial before epoch E\n"
    "  --no-prune       run every trial to the end\n"
    "  --include-base   trial 0 runs PARAMS.json's own values (they must lie\n"
    "                   in the space), so the best is never worse than them\n"
    "  --json           print the trials as JSON instead of a table\n"
    "  --quiet          no progress lines on stderr\n"
    "\n"
    "Writes DIR/best_params.json (the best trial's full params) and\n"
    "DIR/trials.json (every trial's values, objective, epochs run, pruned,\n"
    "seconds), rewritten after each trial. Build the final INT8 model with\n"
    "'kiln build DIR/best_params.json --out MODEL_DIR'.\n";

namespace {

int Fail(const std::string& message) {
  fprintf(stderr, "kiln search: %s\n", message.c_str());
  return kExitFailure;
}

int Usage(const std::string& message) {
  fprintf(stderr, "kiln search: %s\n(run 'kiln search --help')\n",
          message.c_str());
  return kExitUsage;
}

bool ParseInt(const std::string& text, long lo, long hi, int32_t* v) {
  char* end = nullptr;
  const long x = strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || x < lo || x > hi) return false;
  *v = static_cast<int32_t>(x);
  return true;
}

bool ParseU64(const std::string& text, uint64_t* v) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  *v = strtoull(text.c_str(), &end, 10);
  return *end == '\0' && errno == 0;
}

std::string Duration(double seconds) {
  char buf[32];
  const long s = std::lround(std::max(0.0, seconds));
  if (s < 60) {
    snprintf(buf, sizeof buf, "%lds", s);
  } else if (s < 3600) {
    snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  }
  return buf;
}

std::string Percent(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f%%", 100.0 * v);
  return buf;
}

// A value for the table: numbers to 4 significant digits.
std::string Cell(const train::SearchParam& p, double v) {
  if (p.kind == train::DistributionKind::kUniform ||
      p.kind == train::DistributionKind::kLogUniform) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
  }
  return train::SearchValueJson(p, v);
}

bool WriteText(const std::string& path, const std::string& text,
               std::string* error) {
  return WriteFileAtomic(path, std::vector<uint8_t>(text.begin(), text.end()),
                         error);
}

void PrintTable(const train::SearchSpace& space,
                const train::SearchResult& result) {
  std::vector<std::string> header = {"trial"};
  for (const train::SearchParam& p : space.params) header.push_back(p.key);
  for (const char* h : {"valid acc", "epochs", "seconds"}) header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  for (const train::SearchTrial& t : result.trials) {
    std::vector<std::string> row = {std::to_string(t.number) +
                                    (t.number == result.best ? " *" : "")};
    for (size_t i = 0; i < space.params.size(); ++i) {
      row.push_back(Cell(space.params[i], t.point[i]));
    }
    row.push_back(Percent(t.objective));
    row.push_back(std::to_string(t.curve.size()) + (t.pruned ? " pruned" : ""));
    char secs[32];
    snprintf(secs, sizeof secs, "%.1f", t.seconds);
    row.push_back(secs);
    rows.push_back(row);
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string cell = row[c];
      cell.resize(width[c], ' ');
      line += (c ? "  " : "") + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    printf("%s\n", line.c_str());
  };
  print(header);
  for (const auto& row : rows) print(row);
}

}  // namespace

int RunSearch(const Args& args) {
  std::vector<std::string> inputs;
  std::string out_dir;
  bool json_output = false, quiet = false, no_prune = false,
       include_base = false;
  int32_t trials = 0, min_epochs = 0;
  uint64_t seed = 0;
  bool has_seed = false;
  std::string sampler;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--out" && has_value) {
      out_dir = args[++i];
    } else if (a == "--trials" && has_value) {
      if (!ParseInt(args[++i], 1, 100000, &trials)) {
        return Usage("--trials takes an integer in [1, 100000]");
      }
    } else if (a == "--sampler" && has_value) {
      sampler = args[++i];
      if (sampler != "random" && sampler != "tpe") {
        return Usage("--sampler takes random or tpe");
      }
    } else if (a == "--seed" && has_value) {
      if (!ParseU64(args[++i], &seed)) {
        return Usage("--seed takes a non-negative integer");
      }
      has_seed = true;
    } else if (a == "--min-epochs" && has_value) {
      if (!ParseInt(args[++i], 1, 100000, &min_epochs)) {
        return Usage("--min-epochs takes an integer in [1, 100000]");
      }
    } else if (a == "--no-prune") {
      no_prune = true;
    } else if (a == "--include-base") {
      include_base = true;
    } else if (a == "--json") {
      json_output = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] != '-' && inputs.size() < 2) {
      inputs.push_back(a);
    } else {
      return Usage("unexpected argument '" + a + "'");
    }
  }
  if (inputs.size() != 2 || out_dir.empty()) {
    return Usage("needs PARAMS.json, SPACE.json and --out DIR");
  }
  const std::string& params_path = inputs[0];
  const std::string& space_path = inputs[1];

  std::string error;
  train::TrainParams base;
  if (!train::LoadTrainParams(params_path, &base, &error)) return Fail(error);
  train::SearchSpace space;
  if (!train::LoadSearchSpace(space_path, &space, &error)) return Fail(error);
  if (!train::ValidateSearchSpace(space, base, &error)) {
    return Fail(space_path + ": " + error);
  }
  train::SearchOptions& options = space.options;
  if (trials > 0) options.trials = trials;
  if (!sampler.empty()) {
    options.sampler = sampler == "tpe" ? train::SamplerKind::kTpe
                                       : train::SamplerKind::kRandom;
  }
  if (has_seed) options.seed = seed;
  if (min_epochs > 0) options.min_epochs = min_epochs;
  if (no_prune) options.prune = false;
  if (include_base) options.include_base = true;
  std::vector<train::SearchPoint> queued;
  if (options.include_base) {
    queued.emplace_back();
    if (!train::SearchPointOf(space, base, &queued.back(), &error)) {
      return Fail(params_path + ": " + error +
                  " (include_base runs the base params as trial 0; they must "
                  "lie in " +
                  space_path + ")");
    }
  }

  const std::string best_path = out_dir + "/best_params.json";
  const std::string trials_path = out_dir + "/trials.json";
  for (const std::string& out : {best_path, trials_path}) {
    for (const std::string& in : {params_path, space_path}) {
      if (SameFile(in, out)) {
        return Fail("refusing to overwrite the input " + in + " with " + out +
                    "; choose another --out");
      }
    }
  }

  data::Dataset dataset;
  if (!train::OpenTrainingDataset(base, &dataset, quiet, &error)) {
    return Fail(error);
  }
  std::error_code fs_error;
  for (const std::filesystem::path& dir :
       {std::filesystem::path(out_dir),
        std::filesystem::path(base.split.manifest).parent_path()}) {
    if (dir.empty()) continue;
    std::filesystem::create_directories(dir, fs_error);
    if (fs_error) {
      return Fail("cannot create " + dir.string() + ": " + fs_error.message());
    }
  }
  // Every trial uses the base params' splits (the space cannot change them).
  std::vector<data::Split> splits;
  if (!train::PrepareSplits(base, dataset, &splits, &error)) {
    return Fail(error);
  }
  if (std::count(splits.begin(), splits.end(), data::Split::kValid) == 0) {
    return Fail(params_path +
                ": the valid split is empty; the search needs it to score "
                "trials");
  }

  // Per trial: the params it trained (for best_params.json).
  std::vector<train::TrainParams> trial_params;
  const train::SearchObjective objective =
      [&](const train::SearchTrial& trial, const train::EpochReport& report,
          double* value, std::string* trial_error) {
        train::TrainParams params;
        if (!train::ApplySearchPoint(space, base, trial.point, &params,
                                     trial_error)) {
          return false;
        }
        trial_params.push_back(params);
        train::TrainHooks hooks;
        hooks.on_epoch = [&](const train::EpochMetrics& m) {
          return report(m.valid_accuracy);
        };
        train::TrainResult result;
        if (!train::TrainFromParams(params, dataset, splits, &result,
                                    trial_error, /*quiet=*/true, &hooks)) {
          return false;
        }
        *value = result.metrics.best_valid_accuracy;
        return true;
      };

  const auto start = std::chrono::steady_clock::now();
  std::string write_error;
  const auto on_trial = [&](const train::SearchResult& r) {
    const train::SearchTrial& t = r.trials.back();
    if (write_error.empty() &&
        !WriteText(trials_path, train::SearchTrialsJson(space, r),
                   &write_error)) {
      return;
    }
    if (write_error.empty() && r.best == t.number &&
        !WriteText(best_path,
                   train::TrainParamsJson(
                       trial_params[static_cast<size_t>(t.number)]) +
                       "\n",
                   &write_error)) {
      return;
    }
    if (quiet) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    const double done = static_cast<double>(r.trials.size());
    const double eta = elapsed / done * (options.trials - done);
    const double best =
        r.best >= 0 ? r.trials[static_cast<size_t>(r.best)].objective : NAN;
    fprintf(stderr,
            "[search] trial %d (%d/%d)  valid acc %s  best %s (trial %d)  "
            "%zu epochs%s  %.1fs  elapsed %s  ETA %s\n",
            t.number, t.number + 1, options.trials,
            Percent(t.objective).c_str(), Percent(best).c_str(), r.best,
            t.curve.size(), t.pruned ? " (pruned)" : "", t.seconds,
            Duration(elapsed).c_str(), Duration(eta).c_str());
  };
  if (!quiet) {
    fprintf(stderr,
            "[search] %d trials, sampler %s, seed %llu, %zu parameters, "
            "pruning %s\n",
            options.trials, train::SamplerName(options.sampler),
            static_cast<unsigned long long>(options.seed), space.params.size(),
            options.prune
                ? ("after epoch " + std::to_string(options.min_epochs)).c_str()
                : "off");
  }
  train::SearchResult result;
  if (!train::RunSearchTrials(space, objective, on_trial, &result, &error,
                              queued)) {
    return Fail(error);
  }
  if (!write_error.empty()) return Fail(write_error);
  if (result.best < 0) {
    return Fail("no trial produced a valid accuracy");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  const train::SearchTrial& best =
      result.trials[static_cast<size_t>(result.best)];
  if (json_output) {
    fputs(train::SearchTrialsJson(space, result).c_str(), stdout);
    return kExitOk;
  }
  PrintTable(space, result);
  size_t pruned = 0;
  for (const train::SearchTrial& t : result.trials) pruned += t.pruned;
  printf("\n");
  printf("search      %zu trials (%zu pruned) in %s, sampler %s, seed %llu\n",
         result.trials.size(), pruned, Duration(seconds).c_str(),
         train::SamplerName(options.sampler),
         static_cast<unsigned long long>(options.seed));
  if (options.include_base) {
    printf("base        trial 0: valid accuracy %s\n",
           Percent(result.trials[0].objective).c_str());
  }
  printf("best        trial %d: valid accuracy %s\n", best.number,
         Percent(best.objective).c_str());
  printf("params      %s\n", best_path.c_str());
  printf("trials      %s\n", trials_path.c_str());
  printf("next        kiln build %s --out DIR\n", best_path.c_str());
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
