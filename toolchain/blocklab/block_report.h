// The block model in the coder's loop: running a compiled block model
// through the runtime on every block of a tile (one batched call), turning
// its decisions into rankings, and encoding an image with a guided search
// (the product of the model's top-k lists; the codec's default search for
// blocks the model flags) or with the heuristics or the exhaustive search,
// timed, with the lossless round trip checked.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_BLOCK_REPORT_H_
#define KILN_TOOLCHAIN_BLOCKLAB_BLOCK_REPORT_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/guided_search.h"
#include "toolchain/train/quantize_model.h"

namespace kiln {
namespace blocklab {

// Whether a compiled block model takes the pixel statistics
// (block_features.h: FLOAT32 [KILN_BLOCK_FEATURES]) rather than the window
// (UINT8 [9, 10, 3]); false with *error when it takes neither.
bool BlockModelTakesFeatures(train::KilnRunner* runner, bool* features,
                             std::string* error);
// The model input of `blocks` of `image` (all blocks when empty), as the
// runtime takes it: windows, or features as float bytes.
std::vector<uint8_t> BlockModelInputs(const Image& image,
                                      const std::vector<int32_t>& blocks,
                                      bool features);

// What the model said about each block.
struct ModelAnswers {
  std::vector<Ranking> rankings;  // from the decisions' top-k lists
  std::vector<uint8_t> fallback;  // any head flagged
  // Per block and head: top-1..16 probability mass (softmax of the
  // dequantized logits, in decision order). Only when asked for.
  std::vector<float> topk_prob;  // n * 4 * 16
  double seconds = 0;            // the kiln_invoke call(s) alone
};
// The guided search's filters: for each predictor of a block's ranking,
// the filters ascending by filtered energy under it (RankFiltersByEnergy).
// The model names predictors, scans, interleaves and how many filters to
// try and flags the blocks to fall back; the block's own statistics order
// the filters per predictor, which the energy ranks better than one list
// for all predictors can (docs/block_model.md).
// RankFiltersForRanking keeps the first `count` and sets filter_count to it
// (the encoder: count = the filter head's k); RankFiltersPerPredictor keeps
// the whole order (filter_count = kFilters), so a frontier may try any
// number of filters per predictor.
void RankFiltersForRanking(const Image& image, int32_t block, int32_t count,
                           Ranking* r);
void RankFiltersPerPredictor(const Image& image,
                             const std::vector<int32_t>& blocks,
                             ModelAnswers* answers);

// Runs `runner` (a block model: 4 heads) over n inputs in one call.
bool RunBlockModel(train::KilnRunner* runner, const uint8_t* inputs, size_t n,
                   bool want_probabilities, ModelAnswers* out,
                   std::string* error);

// Block rows per tile: the unit EncodeWith predicts in one batched call,
// as TLG8 does (its tiles are 80 pixels high).
constexpr int32_t kTileBlockRows = 10;

enum class SearchMethod { kExhaustive, kDefault, kModel, kHeuristic };
const char* SearchMethodName(SearchMethod m);

struct EncodeRun {
  SearchMethod method = SearchMethod::kExhaustive;
  uint64_t bytes = 0;
  uint64_t residual_bits = 0;
  double estimates_per_block = 0;
  double seconds = 0;        // whole encode: model, search, entropy coding
  double model_seconds = 0;  // model only: inputs, kiln_invoke, decisions
  double fallback_rate = 0;
  bool lossless = false;  // decoded == original
  std::vector<uint32_t> block_bits;
  std::vector<uint32_t> block_estimates;
  std::vector<uint8_t> block_fallback;
};

// Encodes `image` with `method`: kModel needs `runner` (its compiled top-k
// lists and fallback flags are used as they are; a flagged block runs the
// exhaustive search when exhaustive_fallback, else the codec's pruned
// default search); kHeuristic searches the product `heuristic_k` of the
// heuristic rankings. Decodes the stream and checks it equals the image.
bool EncodeWith(const Image& image, SearchMethod method,
                train::KilnRunner* runner, const TopK& heuristic_k,
                const uint8_t interleave_prior[kInterleaves],
                bool exhaustive_fallback, EncodeRun* out, std::string* error);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_BLOCK_REPORT_H_
