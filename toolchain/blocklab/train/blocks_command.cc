// `kiln blocks`: the block side-information model end to end. Labels the
// bundled photographs with the exhaustive search (cached), trains the
// multi-task network on the training photographs, quantizes and compiles
// it, chooses the operating point (top-k per head and fallback thresholds)
// on validation blocks, then on the held-out photographs encodes every
// image exhaustively, with the codec's pruned search, guided by the model
// and guided by the no-model heuristics, and reports size, bit estimates,
// time, fallback rate and the model's share of the time, plus the
// frontier of both rankings.
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "toolchain/atomic_file.h"
#include "toolchain/blocklab/block_dataset.h"
#include "toolchain/blocklab/block_report.h"
#include "toolchain/blocklab/guided_search.h"
#include "toolchain/blocklab/parallel_for.h"
#include "toolchain/blocklab/train/block_model.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace cli {

const char kBlocksUsage[] =
    "usage: kiln blocks --out DIR [options]\n"
    "\n"
    "Trains the block side-information model on the bundled photographs\n"
    "(docs/block_model.md), compiles DIR/model.kiln and reports the guided\n"
    "search on held-out photographs against the exhaustive search and the\n"
    "no-model heuristics (DIR/report.json, DIR/blocks.csv,\n"
    "DIR/frontier.svg).\n"
    "\n"
    "options:\n"
    "  --out DIR            output directory (created; files written\n"
    "                       atomically)\n"
    "  --dataset FILE       block dataset cache (default DIR/blocks.kbds):\n"
    "                       read if it exists, else labelled and written\n"
    "  --held-out A,B       held-out photographs (default coffee,flower)\n"
    "  --train-images A,B   training photographs (default: every other\n"
    "                       bundled one)\n"
    "  --arch A             features (default: cheap pixel statistics, MLP)\n"
    "                       or window (the 9x10x3 pixels, conv backbone)\n"
    "  --epochs N           training epochs (default 40)\n"
    "  --temperature BITS   soft-target temperature T (default 2)\n"
    "  --predictor-target N the predictor head's target bits: with each\n"
    "                       predictor's N lowest-energy filters, as the\n"
    "                       guided search tries it (default 4), or all\n"
    "                       (the exhaustive per-option minimum)\n"
    "  --no-residual-skip   features: no linear path from the features\n"
    "                       to the predictor logits (it starts as ranking\n"
    "                       the predictors by sum |residual|)\n"
    "  --seed N             training seed (default 1): initialisation and\n"
    "                       shuffles\n"
    "  --threads N          threads for labelling and training (default 2)\n"
    "  --fallback S         what a flagged block searches: exhaustive (all\n"
    "                       12,288 tuples, default) or pruned (the codec's\n"
    "                       energy-pruned search)\n"
    "  --max-increase PCT   size budget of the operating point on the valid\n"
    "                       blocks, percent (default 0.2)\n"
    "  --quiet              no progress on stderr\n";

namespace {

using namespace blocklab;

// Guided encodes per held-out image whose median time is reported.
constexpr int kTimedEncodes = 5;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool WriteText(const std::string& path, const std::string& text,
               std::string* error) {
  return WriteFileAtomic(path, std::vector<uint8_t>(text.begin(), text.end()),
                         error);
}

// Validation blocks: a fixed tenth of the training photographs' blocks,
// by a hash of (image, block) so it does not depend on the order.
bool IsValid(const BlockExample& e) {
  uint64_t h =
      (static_cast<uint64_t>(e.image) << 32) ^ static_cast<uint32_t>(e.block);
  h *= 0x9E3779B97F4A7C15ull;
  return (h >> 59) < 3;  // 3/32 ~ 9.4%
}

struct Options {
  std::string out, dataset;
  std::vector<std::string> held_out = {"coffee", "flower"};
  std::vector<std::string> train_images;  // empty: all but the held-out
  BlockArch arch = BlockArch::kFeatures;
  int32_t epochs = 40, threads = 2;
  double temperature = 2.0;
  bool residual_skip = true;
  uint64_t seed = 1;
  int32_t predictor_target_filters = 4;  // 0: the exhaustive minimum
  double max_increase = 0.002;
  bool exhaustive_fallback = true;
  bool quiet = false;
};

int Usage(const std::string& why) {
  fprintf(stderr, "kiln blocks: %s\n%s", why.c_str(), kBlocksUsage);
  return kExitUsage;
}

int Failure(const std::string& why) {
  fprintf(stderr, "kiln blocks: %s\n", why.c_str());
  return kExitFailure;
}

// Compiles `model` with the given per-head policies.
bool Compile(const train::FloatModel& model, const int32_t top_k[4],
             const float thresholds[4], std::vector<uint8_t>* bytes,
             std::string* error) {
  train::FloatModel m = model;
  for (int h = 0; h < 4; ++h) {
    m.heads[h].policy.top_k = top_k[h];
    m.heads[h].policy.confidence = ConfidenceKind::kTopKProb;
    m.heads[h].policy.threshold_real = thresholds[h];
  }
  train::QuantizeOptions q;
  q.model_name = "block_side_info";
  q.input_name = "window";
  q.created_by = "kiln blocks";
  return train::QuantizeModelToBytes(m, q, bytes, error);
}

// What the frontiers are scored on, per block: its cost table (owned by
// `tables`) and the fallback search's result, with four rankings: the
// guided search's (model + per-predictor filter order), the model's heads
// alone, the heuristics' (the codec's, predictors by energy) and the same
// with predictors by magnitude (a stronger baseline).
struct ScoredBlocks {
  std::deque<std::vector<uint16_t>> tables;
  std::vector<EvalBlock> guided, model_only, heuristic, magnitude;
};

void ScoreBlocks(const Image& image, const std::vector<int32_t>& blocks,
                 const ModelAnswers& model, const uint8_t prior[2], int threads,
                 bool with_heuristics, bool exhaustive_fallback,
                 ScoredBlocks* out) {
  const size_t base = out->guided.size();
  for (size_t i = 0; i < blocks.size(); ++i) out->tables.emplace_back(kTuples);
  out->guided.resize(base + blocks.size());
  out->model_only.resize(base + blocks.size());
  if (with_heuristics) {
    out->heuristic.resize(base + blocks.size());
    out->magnitude.resize(base + blocks.size());
  }
  ModelAnswers guided = model;
  RankFiltersPerPredictor(image, blocks, &guided);
  const Candidates pruned = DefaultSearch();
  ParallelFor(blocks.size(), threads, [&](size_t i) {
    std::vector<uint16_t>& table = out->tables[base + i];
    AllTupleBits(image, blocks[i], table.data());
    EvalBlock e;
    e.table = table.data();
    e.full_bits = *std::min_element(table.begin(), table.end());
    BlockLabels labels;
    SearchBlock(image, blocks[i], &pruned, &labels);
    e.fallback_bits = exhaustive_fallback ? e.full_bits : labels.best_bits;
    e.fallback_estimates =
        exhaustive_fallback ? static_cast<uint32_t>(kTuples) : labels.estimates;
    for (int h = 0; h < 4; ++h)
      for (int j = 0; j < 16; ++j)
        e.topk_prob[h][j] = model.topk_prob[(i * 4 + h) * 16 + j];
    e.ranking = model.rankings[i];
    out->model_only[base + i] = e;
    e.ranking = guided.rankings[i];
    out->guided[base + i] = e;
    if (with_heuristics) {
      e.ranking = HeuristicRanking(image, blocks[i], 4, prior);
      out->heuristic[base + i] = e;
      e.ranking = HeuristicRanking(image, blocks[i], 4, prior,
                                   PredictorStatistic::kMagnitude);
      out->magnitude[base + i] = e;
    }
  });
}

nlohmann::json PointJson(const FrontierPoint& p) {
  return {
      {"top_k", {p.k.predictors, p.k.filters, p.k.scans, p.k.interleaves}},
      {"thresholds",
       {p.thresholds[0], p.thresholds[1], p.thresholds[2], p.thresholds[3]}},
      {"estimates_per_block", p.estimates_per_block},
      {"size_increase_pct", p.size_increase * 100},
      {"fallback_rate", p.fallback_rate}};
}

nlohmann::json FrontJson(const std::vector<FrontierPoint>& front) {
  nlohmann::json a = nlohmann::json::array();
  for (const FrontierPoint& p : front) a.push_back(PointJson(p));
  return a;
}

int Run(const Options& o) {
  std::string error;
  mkdir(o.out.c_str(), 0755);
  struct stat st;
  if (stat(o.out.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Failure("cannot create the output directory " + o.out);
  const bool progress = !o.quiet;
  auto say = [&](const char* fmt, auto... args) {
    if (!progress) return;
    fprintf(stderr, "[blocks] ");
    fprintf(stderr, fmt, args...);
    fprintf(stderr, "\n");
  };

  // ---- Photographs ----
  std::vector<Photo> photos = BundledPhotos();
  std::set<std::string> held(o.held_out.begin(), o.held_out.end());
  std::vector<Photo> train_photos, test_photos;
  std::set<std::string> wanted(o.train_images.begin(), o.train_images.end());
  for (const std::string& name : o.train_images)
    if (held.count(name))
      return Failure("photograph " + name + " is both trained on and held out");
  for (const Photo& p : photos) {
    if (held.count(p.name)) {
      test_photos.push_back(p);
    } else if (wanted.empty() || wanted.count(p.name)) {
      train_photos.push_back(p);
    }
  }
  if (test_photos.size() != held.size() ||
      (!wanted.empty() && train_photos.size() != wanted.size()))
    return Failure(
        "a named photograph is not installed or not bundled "
        "(scripts/setup.sh installs python3-skimage and "
        "python3-sklearn; `kiln blocklab dataset --help` lists "
        "them)");
  if (train_photos.empty())
    return Failure("no training photograph is installed");

  // ---- Dataset (cached) ----
  const std::string cache =
      o.dataset.empty() ? o.out + "/blocks.kbds" : o.dataset;
  BlockDataset dataset;
  std::map<std::string, Image> images;
  auto image_of = [&](const Photo& p) -> const Image* {
    auto it = images.find(p.name);
    if (it != images.end()) return &it->second;
    Image img;
    if (!LoadImage(p.path, &img, &error)) return nullptr;
    return &images.emplace(p.name, std::move(img)).first->second;
  };
  if (stat(cache.c_str(), &st) == 0) {
    if (!ReadBlockDataset(cache, &dataset, &error)) return Failure(error);
    say("dataset %s: %zu blocks of %zu photographs (cached)", cache.c_str(),
        dataset.examples.size(), dataset.images.size());
    for (const std::string& name : dataset.images)
      if (held.count(name))
        return Failure("the dataset " + cache + " holds held-out photograph " +
                       name);
  } else {
    const double t0 = Now();
    for (const Photo& p : train_photos) {
      const Image* img = image_of(p);
      if (img == nullptr) return Failure(error);
      dataset.images.push_back(p.name);
      AppendImageBlocks(*img, static_cast<uint16_t>(dataset.images.size() - 1),
                        o.threads, &dataset);
      say("labelled %s (%dx%d): %zu blocks so far, %.1f s", p.name.c_str(),
          img->width, img->height, dataset.examples.size(), Now() - t0);
    }
    if (!WriteBlockDataset(cache, dataset, &error)) return Failure(error);
  }
  std::vector<size_t> train_idx, valid_idx;
  for (size_t i = 0; i < dataset.examples.size(); ++i)
    (IsValid(dataset.examples[i]) ? valid_idx : train_idx).push_back(i);

  // ---- Model inputs ----
  std::vector<const Image*> dataset_images;
  for (const std::string& name : dataset.images) {
    const Photo* photo = nullptr;
    for (const Photo& p : photos)
      if (p.name == name) photo = &p;
    if (photo == nullptr)
      return Failure("photograph " + name + " of the dataset is not installed");
    const Image* img = image_of(*photo);
    if (img == nullptr) return Failure(error);
    dataset_images.push_back(img);
  }
  BlockInputs inputs;
  ComputeBlockInputs(dataset, dataset_images, o.arch, &inputs);
  if (o.predictor_target_filters > 0) {
    // The guided search orders each predictor's filters by energy and tries
    // the first few: the predictor head learns which predictor wins that
    // search, not which wins with filters the search never tries.
    const double tp = Now();
    ParallelFor(dataset.examples.size(), o.threads, [&](size_t i) {
      BlockExample& e = dataset.examples[i];
      GuidedPredictorBits(*dataset_images[e.image], e.block,
                          o.predictor_target_filters, e.labels.predictor_bits);
    });
    say("predictor targets: each predictor with its %d lowest-energy "
        "filters (%.1f s)",
        o.predictor_target_filters, Now() - tp);
  }
  const bool features = o.arch == BlockArch::kFeatures;

  // ---- Train ----
  BlockNetConfig config;
  config.epochs = o.epochs;
  config.threads = o.threads;
  config.temperature_bits = o.temperature;
  config.residual_skip = o.residual_skip;
  config.seed = o.seed;
  train::FloatModel float_model;
  BlockTrainMetrics metrics;
  if (!TrainBlockModel(dataset, inputs, train_idx, valid_idx, config,
                       &float_model, &metrics, &error, o.quiet))
    return Failure(error);
  say("trained %d epochs in %.1f s (best epoch %d)", metrics.epochs,
      metrics.seconds, metrics.best_epoch);

  // ---- Stage 1: widest lists, no fallback, to score on valid ----
  const int32_t wide_k[4] = {kPredictors, kBlockHeadRanked[kHeadFilter], kScans,
                             kInterleaves};
  const float no_threshold[4] = {0, 0, 0, 0};
  std::vector<uint8_t> wide_bytes;
  if (!Compile(float_model, wide_k, no_threshold, &wide_bytes, &error))
    return Failure(error);
  train::KilnRunner wide;
  if (!wide.Load(wide_bytes, 1024, &error)) return Failure(error);

  // Interleave prior for the heuristics: the more common best on train.
  size_t interleaved_best = 0;
  for (size_t i : train_idx)
    interleaved_best += dataset.examples[i].labels.best.interleave;
  const uint8_t prior[2] = {
      static_cast<uint8_t>(interleaved_best * 2 >= train_idx.size() ? 1 : 0),
      static_cast<uint8_t>(interleaved_best * 2 >= train_idx.size() ? 0 : 1)};

  // ---- Operating point on valid ----
  const double tv = Now();
  ScoredBlocks valid;
  for (uint16_t img_id = 0; img_id < dataset.images.size(); ++img_id) {
    const Image* img = dataset_images[img_id];
    std::vector<int32_t> blocks;
    for (size_t i : valid_idx)
      if (dataset.examples[i].image == img_id)
        blocks.push_back(dataset.examples[i].block);
    if (blocks.empty()) continue;
    std::vector<uint8_t> model_in = BlockModelInputs(*img, blocks, features);
    ModelAnswers answers;
    if (!RunBlockModel(&wide, model_in.data(), blocks.size(), true, &answers,
                       &error))
      return Failure(error);
    ScoreBlocks(*img, blocks, answers, prior, o.threads, false,
                o.exhaustive_fallback, &valid);
  }
  const std::vector<double> quantiles = {0,    0.005, 0.01, 0.02, 0.03, 0.05,
                                         0.08, 0.12,  0.2,  0.3,  0.5};
  const std::vector<TopK> grid =
      TopKGrid(kBlockHeadRanked[kHeadPredictor], kBlockHeadRanked[kHeadFilter]);
  std::vector<FrontierPoint> valid_points =
      ScoreGrid(valid.guided, grid, true, quantiles);
  FrontierPoint op;
  if (!ChooseOperatingPoint(valid_points, o.max_increase, &op))
    return Failure("no operating point keeps the valid size increase under " +
                   std::to_string(o.max_increase * 100) + "%");
  say("operating point on %zu valid blocks (%.1f s): top-k %d/%d/%d/%d, "
      "%.1f estimates/block, +%.3f%%, fallback %.1f%%",
      valid.guided.size(), Now() - tv, op.k.predictors, op.k.filters,
      op.k.scans, op.k.interleaves, op.estimates_per_block,
      op.size_increase * 100, op.fallback_rate * 100);

  // ---- Final model ----
  const int32_t op_k[4] = {op.k.predictors, op.k.filters, op.k.scans,
                           op.k.interleaves};
  std::vector<uint8_t> model_bytes;
  if (!Compile(float_model, op_k, op.thresholds, &model_bytes, &error))
    return Failure(error);
  if (!WriteFileAtomic(o.out + "/model.kiln", model_bytes, &error))
    return Failure(error);
  train::KilnRunner deployed;
  if (!deployed.Load(model_bytes, 1024, &error)) return Failure(error);

  // ---- Held-out photographs ----
  nlohmann::json report;
  report["arch"] = features ? "features" : "window";
  report["train_photographs"] = dataset.images;
  report["train_blocks"] = train_idx.size();
  report["valid_blocks"] = valid_idx.size();
  report["predictor_target"] =
      o.predictor_target_filters > 0
          ? "each predictor with its " +
                std::to_string(o.predictor_target_filters) +
                " lowest-energy filters"
          : std::string("exhaustive per-option minimum");
  report["temperature_bits"] = o.temperature;
  report["residual_skip"] = features && o.residual_skip;
  report["seed"] = o.seed;
  report["training"] = {{"epochs", metrics.epochs},
                        {"best_epoch", metrics.best_epoch},
                        {"seconds", metrics.seconds},
                        {"valid_top1",
                         {{"predictor", metrics.valid_top1[0]},
                          {"filter", metrics.valid_top1[1]},
                          {"scan", metrics.valid_top1[2]},
                          {"interleave", metrics.valid_top1[3]}}}};
  report["operating_point_valid"] = PointJson(op);
  report["fallback_search"] = o.exhaustive_fallback ? "exhaustive" : "pruned";
  std::string csv =
      "image,block,exhaustive_bits,pruned_bits,model_bits,model_estimates,"
      "model_fallback,heuristic_bits,heuristic_estimates\n";
  ScoredBlocks test;
  const TopK heuristic_k = op.k;  // same product size as the model's lists
  nlohmann::json per_image = nlohmann::json::array();
  double sum_full = 0, sum_model = 0, sum_heur = 0, sum_pruned = 0;
  double model_seconds = 0, guided_seconds = 0, est_model = 0, est_pruned = 0,
         est_heur = 0, fallback_blocks = 0, total_blocks = 0;
  bool all_lossless = true;
  printf("\nheld-out photographs (single thread; sizes in bytes)\n");
  printf(
      "%-10s %7s | %9s %9s %9s %9s | %8s %8s %8s | %7s %7s %7s %7s | %5s %6s\n",
      "image", "blocks", "exhaust.", "pruned", "model", "heur.", "est.prn",
      "est.mdl", "est.heu", "t.exh", "t.prn", "t.mdl", "t.heu", "fb%", "mdl%");
  for (const Photo& p : test_photos) {
    const Image* img = image_of(p);
    if (img == nullptr) return Failure(error);
    EncodeRun runs[4];
    const SearchMethod methods[4] = {
        SearchMethod::kExhaustive, SearchMethod::kDefault, SearchMethod::kModel,
        SearchMethod::kHeuristic};
    for (int m = 0; m < 4; ++m) {
      if (!EncodeWith(*img, methods[m], &deployed, heuristic_k, prior,
                      o.exhaustive_fallback, &runs[m], &error))
        return Failure(p.name + ": " + error);
      all_lossless &= runs[m].lossless;
    }
    // The model's share of the guided encode is a target, and this machine
    // is noisy: the two guided encodes (model, heuristics) run
    // kTimedEncodes times, interleaved, and their median times are
    // reported. The searches are deterministic, so only the times differ
    // between runs (EncodeWith starts each run afresh).
    std::vector<double> encode_times[4], model_times[4];
    for (int r = 0; r < kTimedEncodes; ++r) {
      for (int m : {2, 3}) {
        if (r > 0 &&
            !EncodeWith(*img, methods[m], &deployed, heuristic_k, prior,
                        o.exhaustive_fallback, &runs[m], &error))
          return Failure(p.name + ": " + error);
        all_lossless &= runs[m].lossless;
        encode_times[m].push_back(runs[m].seconds);
        model_times[m].push_back(runs[m].model_seconds);
      }
    }
    for (int m : {2, 3}) {
      runs[m].seconds = Median(encode_times[m]);
      runs[m].model_seconds = Median(model_times[m]);
    }
    const size_t n = static_cast<size_t>(img->blocks());
    for (size_t b = 0; b < n; ++b) {
      csv += p.name + "," + std::to_string(b) + "," +
             std::to_string(runs[0].block_bits[b]) + "," +
             std::to_string(runs[1].block_bits[b]) + "," +
             std::to_string(runs[2].block_bits[b]) + "," +
             std::to_string(runs[2].block_estimates[b]) + "," +
             std::to_string(runs[2].block_fallback[b]) + "," +
             std::to_string(runs[3].block_bits[b]) + "," +
             std::to_string(runs[3].block_estimates[b]) + "\n";
    }
    // Frontier material: all blocks of the image.
    std::vector<int32_t> all(n);
    for (size_t b = 0; b < n; ++b) all[b] = static_cast<int32_t>(b);
    std::vector<uint8_t> model_in = BlockModelInputs(*img, {}, features);
    ModelAnswers answers;
    if (!RunBlockModel(&wide, model_in.data(), n, true, &answers, &error))
      return Failure(error);
    ScoreBlocks(*img, all, answers, prior, o.threads, true,
                o.exhaustive_fallback, &test);

    sum_full += runs[0].bytes;
    sum_pruned += runs[1].bytes;
    sum_model += runs[2].bytes;
    sum_heur += runs[3].bytes;
    model_seconds += runs[2].model_seconds;
    guided_seconds += runs[2].seconds;
    est_pruned += runs[1].estimates_per_block * n;
    est_model += runs[2].estimates_per_block * n;
    est_heur += runs[3].estimates_per_block * n;
    fallback_blocks += runs[2].fallback_rate * n;
    total_blocks += n;
    printf(
        "%-10s %7zu | %9llu %9llu %9llu %9llu | %8.1f %8.1f %8.1f | "
        "%6.2fs %6.2fs %6.2fs %6.2fs | %5.1f %6.2f\n",
        p.name.c_str(), n, (unsigned long long)runs[0].bytes,
        (unsigned long long)runs[1].bytes, (unsigned long long)runs[2].bytes,
        (unsigned long long)runs[3].bytes, runs[1].estimates_per_block,
        runs[2].estimates_per_block, runs[3].estimates_per_block,
        runs[0].seconds, runs[1].seconds, runs[2].seconds, runs[3].seconds,
        runs[2].fallback_rate * 100,
        runs[2].model_seconds / runs[2].seconds * 100);
    nlohmann::json j;
    j["image"] = p.name;
    j["width"] = img->width;
    j["height"] = img->height;
    j["blocks"] = n;
    for (int m = 0; m < 4; ++m) {
      j[SearchMethodName(methods[m])] = {
          {"bytes", runs[m].bytes},
          {"bits_per_pixel", 8.0 * runs[m].bytes / (img->width * img->height)},
          {"size_vs_exhaustive_pct",
           (static_cast<double>(runs[m].bytes) / runs[0].bytes - 1) * 100},
          {"estimates_per_block", runs[m].estimates_per_block},
          {"encode_seconds", runs[m].seconds},
          {"model_seconds", runs[m].model_seconds},
          {"fallback_rate", runs[m].fallback_rate},
          {"lossless", runs[m].lossless}};
    }
    per_image.push_back(j);
  }
  report["held_out"] = per_image;

  // ---- Frontiers on the held-out blocks ----
  // Both guided searches order filters by energy, so both are drawn from the
  // same grid (up to 32 filters per predictor). The operating point stays
  // within the 16 a compiled filter head can name.
  const std::vector<TopK> frontier_grid =
      TopKGrid(kBlockHeadRanked[kHeadPredictor], 32);
  std::vector<FrontierPoint> model_front =
      ParetoFront(ScoreGrid(test.guided, frontier_grid, true, quantiles));
  std::vector<FrontierPoint> model_plain =
      ParetoFront(ScoreGrid(test.guided, frontier_grid, false, {}));
  std::vector<FrontierPoint> heads_only =
      ParetoFront(ScoreGrid(test.model_only, grid, true, quantiles));
  std::vector<FrontierPoint> heur_front =
      ParetoFront(ScoreGrid(test.heuristic, frontier_grid, false, {}));
  std::vector<FrontierPoint> magnitude_front =
      ParetoFront(ScoreGrid(test.magnitude, frontier_grid, false, {}));
  const FrontierPoint test_op =
      ScoreWithThresholds(test.guided, op.k, op.thresholds);
  // Budgets the model's grid reaches.
  double model_max = 0;
  for (const FrontierPoint& p : model_front)
    model_max = std::max(model_max, p.estimates_per_block);
  // How many of a baseline's points (within model_max) the model is below.
  auto below = [&](const std::vector<FrontierPoint>& baseline,
                   size_t* compared) {
    size_t beaten = 0;
    *compared = 0;
    for (const FrontierPoint& h : baseline) {
      if (h.estimates_per_block > model_max) continue;
      ++*compared;
      beaten += FrontAt(model_front, h.estimates_per_block) < h.size_increase;
    }
    return beaten;
  };
  size_t compared = 0, magnitude_compared = 0;
  const size_t beaten = below(heur_front, &compared);
  const size_t magnitude_beaten = below(magnitude_front, &magnitude_compared);
  if (!WriteText(o.out + "/frontier.svg",
                 FrontierSvg({"model guided (top-k + fallback)",
                              "model guided (top-k only)",
                              "model heads alone (shared filter list)",
                              "heuristics (energy, TV)",
                              "heuristics, predictors by sum |residual|"},
                             {model_front, model_plain, heads_only, heur_front,
                              magnitude_front},
                             &test_op, kTuples),
                 &error))
    return Failure(error);
  report["frontier"] = {{"model", FrontJson(model_front)},
                        {"model_no_fallback", FrontJson(model_plain)},
                        {"model_heads_alone", FrontJson(heads_only)},
                        {"heuristics", FrontJson(heur_front)},
                        {"heuristic_points_compared", compared},
                        {"model_below_heuristics", beaten},
                        {"heuristics_magnitude", FrontJson(magnitude_front)},
                        {"magnitude_points_compared", magnitude_compared},
                        {"model_below_magnitude_heuristics", magnitude_beaten}};

  // ---- Summary ----
  const double size_model = (sum_model / sum_full - 1) * 100;
  const double size_heur = (sum_heur / sum_full - 1) * 100;
  const double size_pruned = (sum_pruned / sum_full - 1) * 100;
  const double em = est_model / total_blocks, ep = est_pruned / total_blocks,
               eh = est_heur / total_blocks;
  const double model_share = model_seconds / guided_seconds * 100;
  const double model_us = model_seconds / total_blocks * 1e6;
  report["summary"] = {{"exhaustive_estimates_per_block", kTuples},
                       {"pruned_estimates_per_block", ep},
                       {"model_estimates_per_block", em},
                       {"heuristic_estimates_per_block", eh},
                       {"fewer_than_exhaustive", kTuples / em},
                       {"fewer_than_pruned", ep / em},
                       {"model_size_increase_pct", size_model},
                       {"heuristic_size_increase_pct", size_heur},
                       {"pruned_size_increase_pct", size_pruned},
                       {"fallback_rate", fallback_blocks / total_blocks},
                       {"model_share_of_encode_pct", model_share},
                       {"model_us_per_block", model_us},
                       {"lossless", all_lossless},
                       {"operating_point_held_out", PointJson(test_op)}};
  if (!WriteText(o.out + "/report.json", report.dump(2) + "\n", &error) ||
      !WriteText(o.out + "/blocks.csv", csv, &error))
    return Failure(error);

  printf(
      "\nvalid top-1 (best option, ties right): predictor %.1f%%  filter "
      "%.1f%%  scan %.1f%%  interleave %.1f%%\n",
      metrics.valid_top1[0] * 100, metrics.valid_top1[1] * 100,
      metrics.valid_top1[2] * 100, metrics.valid_top1[3] * 100);
  printf(
      "operating point: top-k predictor %d, filter %d, scan %d, "
      "interleave %d; fallback when a head's top-k probability is low\n",
      op.k.predictors, op.k.filters, op.k.scans, op.k.interleaves);
  printf(
      "held-out (%0.f blocks): size vs exhaustive: model %+.3f%%, "
      "heuristics %+.3f%% (same product), pruned search %+.3f%%\n",
      total_blocks, size_model, size_heur, size_pruned);
  printf(
      "bit estimates per block: exhaustive %d, pruned %.0f, model %.1f "
      "(%.0fx fewer than exhaustive, %.1fx fewer than pruned)\n",
      kTuples, ep, em, kTuples / em, ep / em);
  printf(
      "fallback rate %.2f%%; model %.2f us/block = %.2f%% of the guided "
      "encode time; lossless round trip: %s\n",
      fallback_blocks / total_blocks * 100, model_us, model_share,
      all_lossless ? "all images" : "FAILED");
  printf(
      "frontier: model below the heuristics at %zu of %zu heuristic "
      "budgets up to %.0f estimates/block (%s/frontier.svg); below the "
      "predictors-by-sum-|residual| heuristics at %zu of %zu\n",
      beaten, compared, model_max, o.out.c_str(), magnitude_beaten,
      magnitude_compared);
  return all_lossless ? kExitOk : kExitFailure;
}

}  // namespace

int RunBlocks(const Args& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string v;
    bool missing = false;
    auto flag = [&](const char* name) {
      if (FlagValue(args, &i, name, &v, &missing)) return true;
      return false;
    };
    uint64_t n = 0;
    if (flag("--out")) {
      o.out = v;
    } else if (!missing && flag("--dataset")) {
      o.dataset = v;
    } else if (!missing && flag("--held-out")) {
      o.held_out = SplitComma(v);
      if (o.held_out.empty()) return Usage("--held-out needs names");
    } else if (!missing && flag("--train-images")) {
      o.train_images = SplitComma(v);
      if (o.train_images.empty()) return Usage("--train-images needs names");
    } else if (!missing && flag("--arch")) {
      if (v == "features") {
        o.arch = BlockArch::kFeatures;
      } else if (v == "window") {
        o.arch = BlockArch::kWindow;
      } else {
        return Usage("bad --arch '" + v + "' (features or window)");
      }
    } else if (!missing && flag("--fallback")) {
      if (v != "exhaustive" && v != "pruned")
        return Usage("bad --fallback '" + v + "' (exhaustive or pruned)");
      o.exhaustive_fallback = v == "exhaustive";
    } else if (!missing && flag("--temperature")) {
      char* end = nullptr;
      const double t = strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(t > 0.01 && t < 1000))
        return Usage("bad --temperature '" + v + "' (bits, e.g. 2)");
      o.temperature = t;
    } else if (!missing && flag("--predictor-target")) {
      if (v == "all") {
        o.predictor_target_filters = 0;
      } else if (ParseCount(v, kFilters, &n)) {
        o.predictor_target_filters = static_cast<int32_t>(n);
      } else {
        return Usage("bad --predictor-target '" + v + "' (1-96 or all)");
      }
    } else if (!missing && flag("--seed")) {
      if (!ParseCount(v, UINT32_MAX, &n))
        return Usage("bad --seed '" + v + "'");
      o.seed = n;
    } else if (!missing && flag("--epochs")) {
      if (!ParseCount(v, 1000, &n)) return Usage("bad --epochs '" + v + "'");
      o.epochs = static_cast<int32_t>(n);
    } else if (!missing && flag("--threads")) {
      if (!ParseCount(v, 256, &n)) return Usage("bad --threads '" + v + "'");
      o.threads = static_cast<int32_t>(n);
    } else if (!missing && flag("--max-increase")) {
      char* end = nullptr;
      double pct = strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(pct > 0 && pct < 100))
        return Usage("bad --max-increase '" + v + "' (percent, e.g. 0.2)");
      o.max_increase = pct / 100;
    } else if (missing) {
      return Usage(args[i] + " needs a value");
    } else if (args[i] == "--quiet") {
      o.quiet = true;
    } else if (args[i] == "--no-residual-skip") {
      o.residual_skip = false;
    } else {
      return Usage("unknown argument '" + args[i] + "'");
    }
  }
  if (o.out.empty()) return Usage("--out is required");
  return Run(o);
}

}  // namespace cli
}  // namespace kiln
