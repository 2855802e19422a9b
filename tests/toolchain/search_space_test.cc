// The hyperparameter search core (toolchain/train/search_space.h) with
// synthetic objectives: the space file parser, validation against the
// params parser, the samplers, TPE against random search, the median
// stopping rule, determinism and trials.json.
#include "toolchain/train/search_space.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"

namespace kiln {
namespace train {
namespace {

const char kSpace[] = R"({
  "training.lr": {"log_uniform": [1e-4, 1e-2]},
  "training.weight_decay": {"log_uniform": [1e-6, 1e-3]},
  "training.label_smoothing": {"uniform": [0, 0.2]},
  "training.batch_size": {"choice": [32, 64, 128]},
  "model.hidden": {"choice": [[64], [128], [64, 64]]},
  "model.channels": {"choice": [[8, 16], [16, 32]]},
  "training.epochs": {"int": [5, 30]},
  "search": {"trials": 12, "sampler": "random", "seed": 7,
             "startup_trials": 4, "gamma": 0.3, "candidates": 16,
             "prune": false, "min_epochs": 2, "prune_min_trials": 5,
             "include_base": true}
})";

SearchSpace MustParse(const std::string& text) {
  SearchSpace space;
  std::string error;
  EXPECT_TRUE(ParseSearchSpace(text, &space, &error)) << error;
  return space;
}

const SearchParam& ParamOf(const SearchSpace& space, const std::string& key) {
  for (const SearchParam& p : space.params) {
    if (p.key == key) return p;
  }
  ADD_FAILURE() << "no parameter " << key;
  return space.params.front();
}

size_t IndexOf(const SearchSpace& space, const std::string& key) {
  for (size_t i = 0; i < space.params.size(); ++i) {
    if (space.params[i].key == key) return i;
  }
  ADD_FAILURE() << "no parameter " << key;
  return 0;
}

TEST(SearchSpace, ParsesEveryDistributionAndTheOptions) {
  const SearchSpace s = MustParse(kSpace);
  ASSERT_EQ(s.params.size(), 7u);
  for (size_t i = 1; i < s.params.size(); ++i) {
    EXPECT_LT(s.params[i - 1].key, s.params[i].key) << "sorted by key";
  }
  const SearchParam& lr = ParamOf(s, "training.lr");
  EXPECT_EQ(lr.kind, DistributionKind::kLogUniform);
  EXPECT_DOUBLE_EQ(lr.low, 1e-4);
  EXPECT_DOUBLE_EQ(lr.high, 1e-2);
  EXPECT_EQ(ParamOf(s, "training.label_smoothing").kind,
            DistributionKind::kUniform);
  const SearchParam& epochs = ParamOf(s, "training.epochs");
  EXPECT_EQ(epochs.kind, DistributionKind::kInt);
  EXPECT_EQ(epochs.low, 5);
  EXPECT_EQ(epochs.high, 30);
  const SearchParam& hidden = ParamOf(s, "model.hidden");
  EXPECT_EQ(hidden.kind, DistributionKind::kChoice);
  EXPECT_EQ(hidden.choices,
            (std::vector<std::string>{"[64]", "[128]", "[64,64]"}));
  EXPECT_EQ(s.options.trials, 12);
  EXPECT_EQ(s.options.sampler, SamplerKind::kRandom);
  EXPECT_EQ(s.options.seed, 7u);
  EXPECT_EQ(s.options.startup_trials, 4);
  EXPECT_DOUBLE_EQ(s.options.gamma, 0.3);
  EXPECT_EQ(s.options.candidates, 16);
  EXPECT_FALSE(s.options.prune);
  EXPECT_EQ(s.options.min_epochs, 2);
  EXPECT_EQ(s.options.prune_min_trials, 5);
  EXPECT_TRUE(s.options.include_base);

  // Without a "search" object the defaults hold.
  const SearchSpace d = MustParse(R"({"training.lr": {"uniform": [0, 1]}})");
  EXPECT_EQ(d.options.trials, SearchOptions().trials);
  EXPECT_EQ(d.options.sampler, SamplerKind::kTpe);
  EXPECT_TRUE(d.options.prune);
  EXPECT_FALSE(d.options.include_base);
}

TEST(SearchSpace, BadFilesNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "invalid JSON"},
      {"[1, 2]", "(top level): expected an object"},
      {"{}", "no parameter to search"},
      {R"({"search": {"trials": 3}})", "no parameter to search"},
      {R"({"training.lr": 0.1})", "training.lr: expected one of"},
      {R"({"training.lr": {"normal": [0, 1]}})",
       "training.lr: unknown distribution \"normal\""},
      {R"({"training.lr": {"uniform": [0, 1], "int": [0, 1]}})",
       "training.lr: expected one of"},
      {R"({"training.lr": {"uniform": [1]}})",
       "training.lr: \"uniform\" takes [low, high]"},
      {R"({"training.lr": {"uniform": ["a", 1]}})",
       "training.lr: \"uniform\" takes [low, high]"},
      {R"({"training.lr": {"uniform": [0.2, 0.1]}})",
       "training.lr: \"uniform\" needs finite bounds with low < high"},
      {R"({"training.lr": {"log_uniform": [0, 0.1]}})",
       "training.lr: \"log_uniform\" needs low > 0"},
      {R"({"training.epochs": {"int": [1.5, 3]}})",
       "training.epochs: \"int\" bounds must be integers"},
      {R"({"training.epochs": {"int": [3, 3]}})",
       "training.epochs: \"int\" needs finite bounds with low < high"},
      {R"({"model.hidden": {"choice": []}})",
       "model.hidden: \"choice\" takes a non-empty array"},
      {R"({"model.hidden": {"choice": [[64], [64]]}})",
       "model.hidden: \"choice\" lists [64] twice"},
      {R"({"model.hidden": {"choice": 64}})",
       "model.hidden: \"choice\" takes a non-empty array"},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": 3})",
       "search: expected an object"},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": {"trials": 0}})",
       "search.trials: expected an integer in [1, 100000]"},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": {"trials": 2.5}})",
       "search.trials: expected an integer"},
      {R"({"training.lr": {"uniform": [0, 1]},
           "search": {"sampler": "grid"}})",
       "search.sampler: expected \"random\" or \"tpe\""},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": {"seed": -1}})",
       "search.seed: expected a non-negative integer"},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": {"gamma": 1}})",
       "search.gamma: expected a number in (0, 1)"},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": {"prune": 1}})",
       "search.prune: expected a boolean"},
      {R"({"training.lr": {"uniform": [0, 1]},
           "search": {"include_base": "yes"}})",
       "search.include_base: expected a boolean"},
      {R"({"training.lr": {"uniform": [0, 1]}, "search": {"bogus": 1}})",
       "search.bogus: unknown key"},
  };
  for (const auto& c : cases) {
    SearchSpace space;
    std::string error;
    EXPECT_FALSE(ParseSearchSpace(c.first, &space, &error)) << c.first;
    EXPECT_NE(error.find(c.second), std::string::npos)
        << "input: " << c.first << "\nerror: " << error;
  }
}

TEST(SearchSpace, LoadNamesTheFile) {
  testing::ScratchDir dir;
  SearchSpace space;
  std::string error;
  EXPECT_FALSE(LoadSearchSpace(dir.Path("missing.json"), &space, &error));
  EXPECT_EQ(error, dir.Path("missing.json") + ": cannot open");
  const std::string path = dir.Path("space.json");
  std::ofstream(path) << R"({"training.lr": {"log_uniform": [-1, 1]}})";
  EXPECT_FALSE(LoadSearchSpace(path, &space, &error));
  EXPECT_EQ(error, path + ": training.lr: \"log_uniform\" needs low > 0");
  std::ofstream(path) << kSpace;
  ASSERT_TRUE(LoadSearchSpace(path, &space, &error)) << error;
  EXPECT_EQ(space.params.size(), 7u);
}

TEST(SearchSpace, ValidationRunsTheParamsParser) {
  const TrainParams base;
  std::string error;
  EXPECT_TRUE(ValidateSearchSpace(MustParse(kSpace), base, &error)) << error;

  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"training.learning_rate": {"uniform": [0, 1]}})",
       "training.learning_rate: not a params key path"},
      {R"({"training.lr.x": {"uniform": [0, 1]}})",
       "training.lr.x: not a params key path"},
      {R"({"training..lr": {"uniform": [0, 1]}})",
       "training..lr: not a params key path"},
      {R"({"split.seed": {"int": [1, 5]}})", "split.seed: not searchable"},
      {R"({"calibration.samples": {"int": [64, 512]}})",
       "calibration.samples: not searchable"},
      {R"({"dataset": {"choice": ["digits", "mnist"]}})",
       "dataset: not searchable"},
      {R"({"training.lr": {"uniform": [0.001, 20]}})",
       "training.lr: the params parser rejects the value 20.0 (training.lr: "
       "must be in [0, 10])"},
      {R"({"training.epochs": {"uniform": [5, 30]}})",
       "training.epochs: the params parser rejects the value 5.0 "
       "(training.epochs: expected an integer)"},
      {R"({"training.epochs": {"int": [0, 30]}})",
       "training.epochs: the params parser rejects the value 0"},
      {R"({"model.hidden": {"choice": [[64], [0]]}})",
       "model.hidden: the params parser rejects the value [0] "
       "(model.hidden[0]: must be in [1, 65536])"},
      {R"({"model.head": {"choice": ["gap", "mean"]}})",
       "model.head: the params parser rejects the value \"mean\""},
      {R"({"training.augmentation": {"choice": [{"hflip": true}]},
           "training.augmentation.hflip": {"choice": [true, false]}})",
       "training.augmentation.hflip: lies inside training.augmentation"},
  };
  for (const auto& c : cases) {
    const SearchSpace space = MustParse(c.first);
    EXPECT_FALSE(ValidateSearchSpace(space, base, &error)) << c.first;
    EXPECT_NE(error.find(c.second), std::string::npos)
        << "input: " << c.first << "\nerror: " << error;
  }
}

TEST(SearchSpace, ApplyingAPointSetsTheKeysAndKeepsTheRest) {
  const SearchSpace space = MustParse(kSpace);
  TrainParams base;
  base.dataset = "digits";
  base.training.patience = 4;
  SearchPoint point(space.params.size());
  point[IndexOf(space, "training.lr")] = 0.0025;
  point[IndexOf(space, "training.weight_decay")] = 1e-5;
  point[IndexOf(space, "training.label_smoothing")] = 0.125;
  point[IndexOf(space, "training.batch_size")] = 2;  // 128
  point[IndexOf(space, "model.hidden")] = 2;         // [64, 64]
  point[IndexOf(space, "model.channels")] = 0;       // [8, 16]
  point[IndexOf(space, "training.epochs")] = 17;
  TrainParams p;
  std::string error;
  ASSERT_TRUE(ApplySearchPoint(space, base, point, &p, &error)) << error;
  EXPECT_DOUBLE_EQ(p.training.lr, 0.0025);
  EXPECT_DOUBLE_EQ(p.training.weight_decay, 1e-5);
  EXPECT_DOUBLE_EQ(p.training.label_smoothing, 0.125);
  EXPECT_EQ(p.training.batch_size, 128);
  EXPECT_EQ(p.model.hidden, (std::vector<int32_t>{64, 64}));
  EXPECT_EQ(p.model.channels, (std::vector<int32_t>{8, 16}));
  EXPECT_EQ(p.training.epochs, 17);
  EXPECT_EQ(p.dataset, "digits");
  EXPECT_EQ(p.training.patience, 4);

  point.pop_back();
  EXPECT_FALSE(ApplySearchPoint(space, base, point, &p, &error));
  EXPECT_NE(error.find("6 values for 7 parameters"), std::string::npos)
      << error;
}

TEST(SearchSpace, TheBaseParamsAsAPointAndAsTrialZero) {
  SearchSpace space = MustParse(kSpace);
  const TrainParams base;  // lr 3e-3, batch 128, hidden [128], 8 epochs...
  SearchPoint point;
  std::string error;
  ASSERT_TRUE(SearchPointOf(space, base, &point, &error)) << error;
  EXPECT_EQ(point[IndexOf(space, "training.batch_size")], 2);
  EXPECT_EQ(point[IndexOf(space, "model.hidden")], 1);
  EXPECT_EQ(point[IndexOf(space, "training.epochs")], 8);
  TrainParams applied;
  ASSERT_TRUE(ApplySearchPoint(space, base, point, &applied, &error)) << error;
  EXPECT_EQ(TrainParamsJson(applied), TrainParamsJson(base));

  TrainParams outside = base;
  outside.training.lr = 0.05;
  EXPECT_FALSE(SearchPointOf(space, outside, &point, &error));
  EXPECT_EQ(error,
            "training.lr: the value 0.05 is outside log_uniform [0.0001, "
            "0.01]");
  outside = base;
  outside.model.hidden = {256};
  EXPECT_FALSE(SearchPointOf(space, outside, &point, &error));
  EXPECT_EQ(error, "model.hidden: the value [256] is not among the choices");

  ASSERT_TRUE(SearchPointOf(space, base, &point, &error)) << error;
  space.options.trials = 3;
  space.options.sampler = SamplerKind::kRandom;
  std::vector<SearchPoint> ran;
  const SearchObjective objective = [&](const SearchTrial& t,
                                        const EpochReport&, double* value,
                                        std::string*) {
    ran.push_back(t.point);
    *value = 0.5;
    return true;
  };
  SearchResult result;
  ASSERT_TRUE(
      RunSearchTrials(space, objective, nullptr, &result, &error, {point}))
      << error;
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0], point);
  EXPECT_NE(ran[1], point);
  EXPECT_EQ(result.best, 0) << "ties keep the first";
  // The sampled trials are the ones an unqueued search starts with.
  std::mt19937_64 rng(space.options.seed);
  EXPECT_EQ(ran[1], SampleRandom(space, &rng));
}

TEST(SearchSpace, RandomSamplesStayInTheirDistributions) {
  const SearchSpace space = MustParse(kSpace);
  std::mt19937_64 rng(3);
  const size_t lr = IndexOf(space, "training.lr");
  const size_t smoothing = IndexOf(space, "training.label_smoothing");
  const size_t epochs = IndexOf(space, "training.epochs");
  const size_t hidden = IndexOf(space, "model.hidden");
  const int kSamples = 4000;
  int lr_below_geomean = 0, smoothing_below_mid = 0;
  std::set<int> epoch_values;
  std::map<int, int> hidden_counts;
  for (int i = 0; i < kSamples; ++i) {
    const SearchPoint p = SampleRandom(space, &rng);
    ASSERT_EQ(p.size(), space.params.size());
    EXPECT_GE(p[lr], 1e-4);
    EXPECT_LE(p[lr], 1e-2);
    lr_below_geomean += p[lr] < 1e-3;
    EXPECT_GE(p[smoothing], 0.0);
    EXPECT_LE(p[smoothing], 0.2);
    smoothing_below_mid += p[smoothing] < 0.1;
    EXPECT_EQ(p[epochs], std::round(p[epochs]));
    EXPECT_GE(p[epochs], 5);
    EXPECT_LE(p[epochs], 30);
    epoch_values.insert(static_cast<int>(p[epochs]));
    const std::string epochs_json =
        SearchValueJson(space.params[epochs], p[epochs]);
    EXPECT_EQ(epochs_json.find('.'), std::string::npos) << epochs_json;
    EXPECT_EQ(p[hidden], std::round(p[hidden]));
    ASSERT_GE(p[hidden], 0);
    ASSERT_LT(p[hidden], 3);
    ++hidden_counts[static_cast<int>(p[hidden])];
  }
  // Log-uniform: half the mass below the geometric mean 1e-3 (a uniform
  // draw on [1e-4, 1e-2] would put only 9% there).
  EXPECT_NEAR(lr_below_geomean / double(kSamples), 0.5, 0.04);
  EXPECT_NEAR(smoothing_below_mid / double(kSamples), 0.5, 0.04);
  // Every integer in [5, 30], both ends included, and nothing else.
  EXPECT_EQ(epoch_values.size(), 26u);
  EXPECT_EQ(*epoch_values.begin(), 5);
  EXPECT_EQ(*epoch_values.rbegin(), 30);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(hidden_counts[c] / double(kSamples), 1.0 / 3, 0.04);
  }
  EXPECT_EQ(SearchValueJson(space.params[hidden], 2), "[64,64]");
}

// A synthetic objective with its optimum inside the space: x near 1.3,
// lr near 10^-2.5, n near 7 and the third choice.
const char kSyntheticSpace[] = R"({
  "x": {"uniform": [-5, 5]},
  "lr": {"log_uniform": [1e-5, 1]},
  "n": {"int": [0, 20]},
  "c": {"choice": ["a", "b", "c", "d"]}
})";

double Synthetic(const SearchSpace& space, const SearchPoint& p) {
  const double x = p[IndexOf(space, "x")];
  const double lr = p[IndexOf(space, "lr")];
  const double n = p[IndexOf(space, "n")];
  const double c = p[IndexOf(space, "c")];
  const double dl = std::log10(lr) + 2.5;
  return -((x - 1.3) * (x - 1.3) + dl * dl + 0.05 * (n - 7) * (n - 7) +
           (c == 2 ? 0.0 : 1.0));
}

SearchResult RunSynthetic(SearchSpace space, SamplerKind sampler, uint64_t seed,
                          int32_t trials) {
  space.options.sampler = sampler;
  space.options.seed = seed;
  space.options.trials = trials;
  SearchResult result;
  std::string error;
  const SearchObjective objective = [&](const SearchTrial& t,
                                        const EpochReport&, double* value,
                                        std::string*) {
    *value = Synthetic(space, t.point);
    return true;
  };
  EXPECT_TRUE(RunSearchTrials(space, objective, nullptr, &result, &error))
      << error;
  return result;
}

TEST(SearchSpace, TpeSamplesStayInTheirDistributions) {
  SearchSpace space = MustParse(kSyntheticSpace);
  const SearchResult history = RunSynthetic(space, SamplerKind::kRandom, 5, 20);
  std::mt19937_64 rng(11);
  std::map<int, int> choice_counts;
  for (int i = 0; i < 300; ++i) {
    const SearchPoint p = SampleTpe(space, space.options, history.trials, &rng);
    for (size_t j = 0; j < p.size(); ++j) {
      const SearchParam& param = space.params[j];
      if (param.kind == DistributionKind::kChoice) {
        EXPECT_EQ(p[j], std::round(p[j]));
        EXPECT_GE(p[j], 0);
        EXPECT_LT(p[j], param.choices.size());
        ++choice_counts[static_cast<int>(p[j])];
      } else {
        EXPECT_GE(p[j], param.low) << param.key;
        EXPECT_LE(p[j], param.high) << param.key;
        if (param.kind == DistributionKind::kInt) {
          EXPECT_EQ(p[j], std::round(p[j]));
        }
      }
    }
  }
  // TPE concentrates on the choice of the good trials (the optimum's "c",
  // index 2).
  for (int c : {0, 1, 3}) {
    EXPECT_GT(choice_counts[2], 2 * choice_counts[c]) << c;
  }
}

TEST(SearchSpace, SameSeedSameTrials) {
  const SearchSpace space = MustParse(kSyntheticSpace);
  for (SamplerKind sampler : {SamplerKind::kRandom, SamplerKind::kTpe}) {
    const SearchResult a = RunSynthetic(space, sampler, 42, 25);
    const SearchResult b = RunSynthetic(space, sampler, 42, 25);
    const SearchResult c = RunSynthetic(space, sampler, 43, 25);
    ASSERT_EQ(a.trials.size(), 25u);
    ASSERT_EQ(b.trials.size(), 25u);
    size_t same_as_c = 0;
    for (size_t i = 0; i < a.trials.size(); ++i) {
      EXPECT_EQ(a.trials[i].point, b.trials[i].point) << "trial " << i;
      EXPECT_EQ(a.trials[i].objective, b.trials[i].objective);
      same_as_c += a.trials[i].point == c.trials[i].point;
    }
    EXPECT_EQ(same_as_c, 0u) << "another seed gives other trials";
    EXPECT_EQ(a.best, b.best);
  }
}

TEST(SearchSpace, TpeBeatsRandomSearchOnASyntheticObjective) {
  const SearchSpace space = MustParse(kSyntheticSpace);
  double tpe_sum = 0, random_sum = 0;
  int tpe_wins = 0;
  const int kSeeds = 12;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const SearchResult tpe = RunSynthetic(space, SamplerKind::kTpe, seed, 40);
    const SearchResult rnd =
        RunSynthetic(space, SamplerKind::kRandom, seed, 40);
    const double t = tpe.trials[static_cast<size_t>(tpe.best)].objective;
    const double r = rnd.trials[static_cast<size_t>(rnd.best)].objective;
    // The first startup_trials are the same random draws for both.
    for (int i = 0; i < space.options.startup_trials; ++i) {
      EXPECT_EQ(tpe.trials[static_cast<size_t>(i)].point,
                rnd.trials[static_cast<size_t>(i)].point);
    }
    tpe_sum += t;
    random_sum += r;
    tpe_wins += t > r;
  }
  // Regrets (the optimum is 0). Measured on these seeds: TPE 0.65, random
  // 1.88, TPE better on 12 of 12 (over 200 seeds: 0.99 vs 1.83, 163 wins).
  const double tpe_regret = -tpe_sum / kSeeds;
  const double random_regret = -random_sum / kSeeds;
  EXPECT_LT(tpe_regret, 0.75 * random_regret)
      << "tpe " << tpe_regret << " random " << random_regret;
  EXPECT_GE(tpe_wins, 9) << "of " << kSeeds;
}

SearchTrial Finished(int32_t number, const std::vector<double>& curve,
                     bool pruned = false) {
  SearchTrial t;
  t.number = number;
  t.curve = curve;
  t.pruned = pruned;
  t.objective = *std::max_element(curve.begin(), curve.end());
  return t;
}

TEST(SearchSpace, MedianRuleStopsAClearlyWorseCurve) {
  SearchOptions o;
  o.min_epochs = 3;
  o.prune_min_trials = 3;
  const std::vector<double> good = {0.5, 0.6, 0.7, 0.8, 0.9};
  std::vector<SearchTrial> history = {Finished(0, good), Finished(1, good),
                                      Finished(2, {0.4, 0.7, 0.75, 0.85})};
  const std::vector<double> bad = {0.1, 0.1, 0.1, 0.1};
  EXPECT_FALSE(ShouldPrune(o, history, {0.1}));
  EXPECT_FALSE(ShouldPrune(o, history, {0.1, 0.1})) << "before min_epochs";
  EXPECT_TRUE(ShouldPrune(o, history, {0.1, 0.1, 0.1}));
  EXPECT_TRUE(ShouldPrune(o, history, bad));
  // Best so far, not the last value: an early peak counts.
  EXPECT_FALSE(ShouldPrune(o, history, {0.9, 0.1, 0.1}));
  EXPECT_FALSE(ShouldPrune(o, history, {0.5, 0.6, 0.7}));  // = median
  EXPECT_TRUE(ShouldPrune(o, history, {0.5, 0.6, 0.69}));
  // A trial that ended at epoch 4 counts with its final best at epoch 6
  // (without it there would be too few trials to prune).
  EXPECT_TRUE(ShouldPrune(o, history, {0.5, 0.6, 0.7, 0.8, 0.8, 0.84}));
  EXPECT_FALSE(ShouldPrune(o, history, {0.5, 0.6, 0.7, 0.8, 0.8, 0.95}));

  SearchOptions off = o;
  off.prune = false;
  EXPECT_FALSE(ShouldPrune(off, history, bad));
  SearchOptions late = o;
  late.min_epochs = 5;
  EXPECT_FALSE(ShouldPrune(late, history, bad));
  SearchOptions many = o;
  many.prune_min_trials = 4;
  EXPECT_FALSE(ShouldPrune(many, history, bad)) << "too few finished trials";
  // Pruned trials count only at epochs they reached.
  history.push_back(Finished(3, {0.1, 0.1, 0.1}, /*pruned=*/true));
  EXPECT_TRUE(ShouldPrune(many, history, {0.1, 0.1, 0.1}));
  EXPECT_FALSE(ShouldPrune(many, history, {0.1, 0.1, 0.1, 0.1}));
}

// Curves of 10 epochs rising to q: the search prunes the low ones.
TEST(SearchSpace, SearchPrunesBadTrialsAfterMinEpochsOnly) {
  SearchSpace space = MustParse(R"({"q": {"uniform": [0, 1]}})");
  space.options.sampler = SamplerKind::kRandom;
  space.options.trials = 30;
  space.options.seed = 9;
  space.options.min_epochs = 4;
  space.options.prune_min_trials = 3;
  const SearchObjective objective = [](const SearchTrial& t,
                                       const EpochReport& report, double* value,
                                       std::string*) {
    const double q = t.point[0];
    *value = 0;
    for (int e = 1; e <= 10; ++e) {
      const double v = q * (1 - std::exp(-e / 2.0));
      *value = std::max(*value, v);
      if (!report(v)) break;
    }
    return true;
  };
  SearchResult result;
  std::string error;
  ASSERT_TRUE(RunSearchTrials(space, objective, nullptr, &result, &error))
      << error;
  ASSERT_EQ(result.trials.size(), 30u);
  int pruned = 0;
  double best_q = -1;
  for (const SearchTrial& t : result.trials) {
    const double q = t.point[0];
    if (t.pruned) {
      ++pruned;
      EXPECT_GE(t.curve.size(), 4u) << "pruned before min_epochs";
      EXPECT_LT(t.curve.size(), 10u);
      EXPECT_GE(t.number, 3) << "needs 3 finished trials";
      EXPECT_LT(q, best_q) << "the best curve so far is never pruned";
    } else {
      EXPECT_EQ(t.curve.size(), 10u);
    }
    EXPECT_DOUBLE_EQ(t.objective,
                     *std::max_element(t.curve.begin(), t.curve.end()));
    best_q = std::max(best_q, q);
  }
  EXPECT_GE(pruned, 8);
  EXPECT_FALSE(result.trials[static_cast<size_t>(result.best)].pruned);
  double top_q = 0;
  for (const SearchTrial& t : result.trials)
    top_q = std::max(top_q, t.point[0]);
  EXPECT_EQ(result.trials[static_cast<size_t>(result.best)].point[0], top_q);

  // A worse curve (q = 0.1 after three at q = 0.9) stops exactly at
  // min_epochs.
  SearchSpace fixed = space;
  fixed.options.trials = 4;
  fixed.options.min_epochs = 3;
  const SearchObjective scripted = [&](const SearchTrial& t,
                                       const EpochReport& report, double* value,
                                       std::string*) {
    const double q = t.number < 3 ? 0.9 : 0.1;
    *value = 0;
    for (int e = 1; e <= 10; ++e) {
      const double v = q * (1 - std::exp(-e / 2.0));
      *value = std::max(*value, v);
      if (!report(v)) break;
    }
    return true;
  };
  ASSERT_TRUE(RunSearchTrials(fixed, scripted, nullptr, &result, &error));
  ASSERT_EQ(result.trials.size(), 4u);
  EXPECT_TRUE(result.trials[3].pruned);
  EXPECT_EQ(result.trials[3].curve.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(result.trials[i].pruned);
}

TEST(SearchSpace, AFailingObjectiveAbortsNamingTheTrial) {
  SearchSpace space = MustParse(
      R"({"n": {"int": [1, 3]}, "search": {"trials": 5, "seed": 2}})");
  int calls = 0;
  const SearchObjective objective = [&](const SearchTrial& t,
                                        const EpochReport&, double* value,
                                        std::string* error) {
    if (++calls == 3) {
      *error = "out of memory";
      return false;
    }
    *value = t.point[0];
    return true;
  };
  SearchResult result;
  std::string error;
  EXPECT_FALSE(RunSearchTrials(space, objective, nullptr, &result, &error));
  EXPECT_EQ(result.trials.size(), 2u);
  EXPECT_EQ(error.rfind("trial 2 (n=", 0), 0u) << error;
  EXPECT_NE(error.find("): out of memory"), std::string::npos) << error;
}

TEST(SearchSpace, TrialsJsonListsEveryTrial) {
  SearchSpace space = MustParse(kSyntheticSpace);
  int seen = 0;
  space.options.trials = 6;
  SearchResult result;
  std::string error;
  const SearchObjective objective = [&](const SearchTrial& t,
                                        const EpochReport& report,
                                        double* value, std::string*) {
    report(0.25);
    *value = t.number == 4 ? std::nan("") : Synthetic(space, t.point);
    return true;
  };
  ASSERT_TRUE(RunSearchTrials(
      space, objective,
      [&](const SearchResult& r) { seen = static_cast<int>(r.trials.size()); },
      &result, &error))
      << error;
  EXPECT_EQ(seen, 6);
  const nlohmann::json j =
      nlohmann::json::parse(SearchTrialsJson(space, result));
  EXPECT_EQ(j["options"]["sampler"], "tpe");
  EXPECT_EQ(j["space"]["n"]["int"], nlohmann::json::parse("[0, 20]"));
  EXPECT_EQ(j["space"]["c"]["choice"].size(), 4u);
  ASSERT_EQ(j["trials"].size(), 6u);
  EXPECT_EQ(j["best_trial"], result.best);
  for (size_t i = 0; i < 6; ++i) {
    const nlohmann::json& t = j["trials"][i];
    EXPECT_EQ(t["trial"], i);
    EXPECT_EQ(t["epochs"], 1);
    EXPECT_EQ(t["pruned"], false);
    EXPECT_TRUE(t["values"]["n"].is_number_integer());
    EXPECT_TRUE(t["values"]["c"].is_string());
    EXPECT_TRUE(t["values"]["x"].is_number_float());
    if (i == 4) {
      EXPECT_TRUE(t["objective"].is_null()) << "NaN is written as null";
    } else {
      EXPECT_DOUBLE_EQ(t["objective"].get<double>(),
                       result.trials[i].objective);
    }
  }
  EXPECT_NE(result.best, 4);
}

}  // namespace
}  // namespace train
}  // namespace kiln
