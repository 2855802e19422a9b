// The block model in the coder's loop (block_report.h).
#include "toolchain/blocklab/block_report.h"

#include <string.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "toolchain/blocklab/block_features.h"
#include "toolchain/blocklab/block_pixels.h"

namespace kiln {
namespace blocklab {

namespace {

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Fail(std::string* error, const std::string& message) {
  *error = message;
  return false;
}

}  // namespace

bool BlockModelTakesFeatures(train::KilnRunner* runner, bool* features,
                             std::string* error) {
  const kiln_tensor_info in = runner->input_info();
  if (in.dtype == KILN_FLOAT32 && in.rank == 1 &&
      in.dims[0] == KILN_BLOCK_FEATURES) {
    *features = true;
    return true;
  }
  if (in.dtype == KILN_UINT8 && in.item_bytes == kWindowBytes) {
    *features = false;
    return true;
  }
  return Fail(error,
              "not a block model: its input is neither the block features "
              "(FLOAT32 [124]) nor the window (UINT8 [9, 10, 3])");
}

namespace {

size_t BlockInputBytes(bool features) {
  return features ? KILN_BLOCK_FEATURES * sizeof(float)
                  : static_cast<size_t>(kWindowBytes);
}

// One block's model input (its window, or the features as float bytes).
void WriteBlockInput(const Image& image, int32_t block, bool features,
                     uint8_t* dst) {
  if (!features) {
    BlockWindow(image, block, dst);
    return;
  }
  uint8_t window[kWindowBytes];
  BlockWindow(image, block, window);
  const BlockRect r = BlockAt(image, block);
  float f[KILN_BLOCK_FEATURES];
  kiln_block_features(window, r.w, r.h, f);
  memcpy(dst, f, sizeof(f));
}

// A block's ranking and fallback flag from its four heads' decisions.
void RankingFromDecisions(const kiln_decision* d, Ranking* r,
                          uint8_t* fallback) {
  *fallback =
      (d[0].fallback | d[1].fallback | d[2].fallback | d[3].fallback) != 0;
  for (int j = 0; j < d[0].k; ++j)
    r->predictors[j] = static_cast<uint8_t>(d[0].class_id[j]);
  r->predictor_count = d[0].k;
  // Filter classes are dense indices; the coder takes codes. The model
  // ranks filters once, for every predictor.
  for (int j = 0; j < d[1].k; ++j) {
    const uint8_t code = static_cast<uint8_t>(FilterCodeAt(d[1].class_id[j]));
    for (int p = 0; p < kPredictors; ++p) r->filters[p][j] = code;
  }
  r->filter_count = d[1].k;
  for (int j = 0; j < d[2].k; ++j)
    r->scans[j] = static_cast<uint8_t>(d[2].class_id[j]);
  r->scan_count = d[2].k;
  for (int j = 0; j < d[3].k; ++j)
    r->interleaves[j] = static_cast<uint8_t>(d[3].class_id[j]);
  r->interleave_count = d[3].k;
}

// A block model has the four heads predictor, filter, scan, interleave, with
// the coder's option counts; output_of[h] = the graph output of head h.
bool CheckBlockModelHeads(train::KilnRunner* runner, int32_t output_of[4],
                          std::string* error) {
  if (runner->num_heads() != 4)
    return Fail(error, "not a block model: it has " +
                           std::to_string(runner->num_heads()) +
                           " heads, a block model has 4");
  const int classes[4] = {kPredictors, kFilters, kScans, kInterleaves};
  for (int h = 0; h < 4; ++h) {
    kiln_head_info info = runner->head_info(h);
    if (info.num_classes != classes[h])
      return Fail(error, std::string("not a block model: head ") +
                             std::to_string(h) + " '" + info.name + "' has " +
                             std::to_string(info.num_classes) + " classes");
    output_of[h] = info.output_index;
  }
  return true;
}

}  // namespace

std::vector<uint8_t> BlockModelInputs(const Image& image,
                                      const std::vector<int32_t>& blocks,
                                      bool features) {
  const size_t item = BlockInputBytes(features);
  const size_t n =
      blocks.empty() ? static_cast<size_t>(image.blocks()) : blocks.size();
  std::vector<uint8_t> out(n * item);
  for (size_t i = 0; i < n; ++i) {
    const int32_t block = blocks.empty() ? static_cast<int32_t>(i) : blocks[i];
    WriteBlockInput(image, block, features, out.data() + i * item);
  }
  return out;
}

bool RunBlockModel(train::KilnRunner* runner, const uint8_t* inputs, size_t n,
                   bool want_probabilities, ModelAnswers* out,
                   std::string* error) {
  const int classes[4] = {kPredictors, kFilters, kScans, kInterleaves};
  int32_t output_of[4];
  if (!CheckBlockModelHeads(runner, output_of, error)) return false;
  std::vector<kiln_decision> decisions;
  std::vector<std::vector<uint8_t>> outputs;
  const double t0 = Now();
  if (!runner->Run(inputs, n, want_probabilities ? &outputs : nullptr,
                   &decisions, error))
    return false;
  out->seconds = Now() - t0;
  out->rankings.assign(n, Ranking());
  out->fallback.assign(n, 0);
  if (want_probabilities) out->topk_prob.assign(n * 64, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    RankingFromDecisions(&decisions[i * 4], &out->rankings[i],
                         &out->fallback[i]);
    for (int h = 0; h < 4; ++h) {
      const kiln_decision& d = decisions[i * 4 + static_cast<size_t>(h)];
      if (!want_probabilities) continue;
      const kiln_tensor_info info = runner->output_info(output_of[h]);
      const int8_t* logits =
          reinterpret_cast<const int8_t*>(outputs[output_of[h]].data()) +
          i * static_cast<size_t>(classes[h]);
      // Softmax of the dequantized logits; mass accumulated in the
      // decision's order (the runtime's top-k).
      auto real = [&](int c) {
        return static_cast<double>(info.scale) * (logits[c] - info.zero_point);
      };
      double mx = -1e30;
      for (int c = 0; c < classes[h]; ++c) mx = std::max(mx, real(c));
      double sum = 0;
      for (int c = 0; c < classes[h]; ++c) sum += std::exp(real(c) - mx);
      double acc = 0;
      float* prob = &out->topk_prob[(i * 4 + static_cast<size_t>(h)) * 16];
      for (int j = 0; j < 16; ++j) {
        if (j < d.k) {
          const int c = d.class_id[j];
          acc += std::exp(real(c) - mx) / sum;
        }
        prob[j] = static_cast<float>(j < d.k ? acc : 1.0);
      }
    }
  }
  return true;
}

void RankFiltersForRanking(const Image& image, int32_t block, int32_t count,
                           Ranking* r) {
  for (int j = 0; j < r->predictor_count; ++j) {
    const int p = r->predictors[j];
    uint8_t order[kFilters];
    RankFiltersByEnergy(image, block, p, order);
    std::copy(order, order + count, r->filters[p]);
  }
  r->filter_count = count;
}

void RankFiltersPerPredictor(const Image& image,
                             const std::vector<int32_t>& blocks,
                             ModelAnswers* answers) {
  for (size_t i = 0; i < answers->rankings.size(); ++i) {
    const int32_t block = blocks.empty() ? static_cast<int32_t>(i) : blocks[i];
    RankFiltersForRanking(image, block, kFilters, &answers->rankings[i]);
  }
}

const char* SearchMethodName(SearchMethod m) {
  switch (m) {
    case SearchMethod::kExhaustive:
      return "exhaustive";
    case SearchMethod::kDefault:
      return "pruned";
    case SearchMethod::kModel:
      return "model";
    default:
      return "heuristic";
  }
}

bool EncodeWith(const Image& image, SearchMethod method,
                train::KilnRunner* runner, const TopK& heuristic_k,
                const uint8_t interleave_prior[kInterleaves],
                bool exhaustive_fallback, EncodeRun* out, std::string* error) {
  *out = EncodeRun();
  out->method = method;
  const size_t n = static_cast<size_t>(image.blocks());
  std::vector<BlockTuple> tuples(n);
  out->block_estimates.assign(n, 0);
  out->block_fallback.assign(n, 0);
  const Candidates fallback_search = DefaultSearch();
  // The model's buffers for one tile, made before the clock starts (a codec
  // keeps them for the whole image).
  bool features = false;
  size_t item_bytes = 0;
  const size_t tile_blocks =
      static_cast<size_t>(image.blocks_x()) * kTileBlockRows;
  std::vector<uint8_t> tile_inputs;
  std::vector<kiln_decision> tile_decisions;
  std::vector<Ranking> tile_rankings;
  std::vector<uint8_t> tile_fallback;
  if (method == SearchMethod::kModel) {
    int32_t output_of[4];
    if (!CheckBlockModelHeads(runner, output_of, error) ||
        !BlockModelTakesFeatures(runner, &features, error))
      return false;
    item_bytes = BlockInputBytes(features);
    tile_inputs.resize(tile_blocks * item_bytes);
    tile_decisions.resize(tile_blocks * 4);
    tile_rankings.resize(tile_blocks);
    tile_fallback.resize(tile_blocks);
  }
  size_t fallbacks = 0;
  uint64_t estimates = 0;
  const double t0 = Now();
  for (size_t first = 0; first < n; first += tile_blocks) {
    const size_t count = std::min(tile_blocks, n - first);
    if (method == SearchMethod::kModel) {
      // The codec's unit: every block of a tile (kTileBlockRows block rows)
      // in one batched call.
      const double m0 = Now();
      for (size_t i = 0; i < count; ++i) {
        WriteBlockInput(image, static_cast<int32_t>(first + i), features,
                        tile_inputs.data() + i * item_bytes);
      }
      const void* in = tile_inputs.data();
      if (kiln_invoke(runner->context(), count, &in, nullptr,
                      tile_decisions.data()) != KILN_OK)
        return Fail(error, "kiln_invoke failed on a verified block model");
      for (size_t i = 0; i < count; ++i) {
        RankingFromDecisions(&tile_decisions[i * 4], &tile_rankings[i],
                             &tile_fallback[i]);
      }
      out->model_seconds += Now() - m0;
      // The filter order per predictor is the coder's own energy ranking
      // (the same work the heuristic search does), so it counts as search
      // time.
      for (size_t i = 0; i < count; ++i) {
        RankFiltersForRanking(image, static_cast<int32_t>(first + i),
                              tile_rankings[i].filter_count, &tile_rankings[i]);
      }
    }
    for (size_t b = first; b < first + count; ++b) {
      BlockLabels labels;
      const int32_t block = static_cast<int32_t>(b);
      switch (method) {
        case SearchMethod::kExhaustive:
          SearchBlock(image, block, nullptr, &labels);
          break;
        case SearchMethod::kDefault:
          SearchBlock(image, block, &fallback_search, &labels);
          break;
        case SearchMethod::kModel: {
          const Ranking& r = tile_rankings[b - first];
          if (tile_fallback[b - first]) {
            ++fallbacks;
            out->block_fallback[b] = 1;
            SearchBlock(image, block,
                        exhaustive_fallback ? nullptr : &fallback_search,
                        &labels);
          } else {
            TopK k{r.predictor_count, r.filter_count, r.scan_count,
                   r.interleave_count};
            Candidates c = ProductCandidates(r, k);
            SearchBlock(image, block, &c, &labels);
          }
          break;
        }
        case SearchMethod::kHeuristic: {
          Ranking r = HeuristicRanking(image, block, heuristic_k.predictors,
                                       interleave_prior);
          Candidates c = ProductCandidates(r, heuristic_k);
          SearchBlock(image, block, &c, &labels);
          break;
        }
      }
      tuples[b] = labels.best;
      out->block_estimates[b] = labels.estimates;
      estimates += labels.estimates;
    }
  }
  EncodeResult encoded;
  if (!EncodeImage(image, tuples, &encoded, error)) return false;
  out->seconds = Now() - t0;
  out->bytes = encoded.bytes.size();
  out->block_bits = encoded.block_bits;
  for (uint32_t b : encoded.block_bits) out->residual_bits += b;
  out->estimates_per_block =
      static_cast<double>(estimates) / static_cast<double>(n);
  out->fallback_rate = static_cast<double>(fallbacks) / static_cast<double>(n);
  Image decoded;
  if (!DecodeImage(encoded.bytes.data(), encoded.bytes.size(), &decoded,
                   error)) {
    *error = std::string(SearchMethodName(method)) +
             " encode does not decode: " + *error;
    return false;
  }
  out->lossless = decoded.width == image.width &&
                  decoded.height == image.height && decoded.rgb == image.rgb;
  return true;
}

}  // namespace blocklab
}  // namespace kiln
