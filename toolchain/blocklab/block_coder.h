// Kiln's reference block coder ("blocklab"): a real lossless RGB image coder
// whose per-8x8-block decision space mirrors the TLG8 codec's
// (../docs/blocklab.md; facts in shared/docs/tlg8-block-search.md):
//
//   8 predictors x 96 colour filters x 8 scan orders x 2 (interleave)
//   = 12,288 side-information tuples per block,
//
// each costed by an adaptive Golomb-Rice bit estimate that is exactly the
// number of residual bits the encoder then writes. The exhaustive search
// (optionally with TLG8's energy pruning) gives the labels a model learns;
// a guided search evaluates only the candidates a model (or a heuristic)
// names. The decoder never sees the model: side information is in the
// stream.
//
// Numerics (normative; the decoder inverts exactly these):
//  - Pixels P(ch, x, y), ch 0..2 = R,G,B; outside the image (x < 0, y < 0 or
//    x >= width) P = 0. Blocks are 8x8 in raster order; edge blocks are
//    smaller (width or height < 8).
//  - Neighbours a = P(x-1, y), b = P(x, y-1), c = P(x-1, y-1),
//    d = P(x+1, y-1). Predictors: 0 MED (c >= max(a,b) -> min(a,b);
//    c <= min(a,b) -> max(a,b); else a+b-c), 1 (a+c+1)>>1, 2 (b+c+1)>>1,
//    3 (b+d+1)>>1, 4 a, 5 b, 6 c, 7 d. A block's residuals therefore depend
//    on its pixels, the row above (x = -1..8) and the columns left and
//    right: a 9x10 window per channel. Decoding runs in image raster order,
//    so every neighbour is known when it is needed.
//  - Residual e = int8(P - pred) (wrapped mod 256).
//  - Colour filter code f = perm << 4 | primary << 2 | secondary
//    (perm 0..5, primary 0..3, secondary 0..3; codes with perm > 5 are
//    invalid). kPermutationSources[perm] (colour_filter.h: RGB, RBG, GRB, GBR,
//    BRG, BGR) maps (c0, c1, c2) to source channels.
//    On one pixel's residuals (signed int): c1' = int8(c1 - {0, c0, c0 >> 1,
//    (3 * c0) >> 1}[primary]); c2' = int8(c2 - {0, c0, c1, (c0 + c1) >> 1}
//    [secondary]) (c1 unfiltered; >> is arithmetic); c0' = c0.
//  - Scan orders over the 8x8 positions (kScanOrders): 0 Hilbert,
//    1 zigzag diagonal, 2 zigzag anti-diagonal, 3 horizontal boustrophedon,
//    4 vertical boustrophedon, 5..7 skewed zigzags. Positions outside an
//    edge block are skipped.
//  - Interleave 0: planar (all of c0' in scan order, then c1', then c2');
//    1: interleaved (c0' c1' c2' per position).
//  - Golomb-Rice (one adaptive state per block, reset at the block start):
//    m = zigzag(e) (e >= 0 ? 2e : -2e - 1); k = the smallest k in 0..7 with
//    (n << k) >= sum; q = m >> k; q < kGolombEscape: q ones, a zero, k bits;
//    else kGolombEscape ones and m in 8 bits. Then sum += m, n += 1; when
//    n == kGolombResetCount: sum >>= 1, n >>= 1. Start: sum = kGolombInitSum,
//    n = 1.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_BLOCK_CODER_H_
#define KILN_TOOLCHAIN_BLOCKLAB_BLOCK_CODER_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace kiln {
namespace blocklab {

constexpr int kBlockSize = 8;
constexpr int kPredictors = 8;
constexpr int kPermutations = 6;
constexpr int kPrimaries = 4;
constexpr int kSecondaries = 4;
constexpr int kFilters = kPermutations * kPrimaries * kSecondaries;  // 96
constexpr int kScans = 8;
constexpr int kInterleaves = 2;
constexpr int kTuples = kPredictors * kFilters * kScans * kInterleaves;
// A block's window, from which the model's input is computed: rows
// y0-1 .. y0+7, columns x0-1 .. x0+8, RGB, zero outside the image (an edge
// block's missing pixels are outside the image too).
constexpr int kWindowRows = 9;
constexpr int kWindowCols = 10;
constexpr int kWindowBytes = kWindowRows * kWindowCols * 3;  // 270

constexpr int kGolombEscape = 24;
constexpr int kGolombResetCount = 32;
constexpr int kGolombInitSum = 4;
// TLG8's pruning factor: a predictor (filter) whose residual energy exceeds
// 1.3x the best one's is not searched further.
constexpr double kEnergyPruneFactor = 1.3;
constexpr uint32_t kPrunedBits = 0xFFFFFFFFu;  // never evaluated

inline int FilterCode(int perm, int primary, int secondary) {
  return perm << 4 | primary << 2 | secondary;
}
inline int FilterPerm(int code) { return code >> 4; }
inline int FilterPrimary(int code) { return (code >> 2) & 3; }
inline int FilterSecondary(int code) { return code & 3; }
// The i-th of the 96 filters in search order (perm-major): its code.
inline int FilterCodeAt(int i) {
  return FilterCode(i / 16, (i / 4) % 4, i % 4);
}
// Dense index 0..95 of a valid code (inverse of FilterCodeAt).
inline int FilterIndex(int code) {
  return FilterPerm(code) * 16 + FilterPrimary(code) * 4 +
         FilterSecondary(code);
}

// An 8-bit RGB image, rows top to bottom, pixels R,G,B interleaved.
struct Image {
  int32_t width = 0;
  int32_t height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3
  int32_t blocks_x() const { return (width + kBlockSize - 1) / kBlockSize; }
  int32_t blocks_y() const { return (height + kBlockSize - 1) / kBlockSize; }
  int32_t blocks() const { return blocks_x() * blocks_y(); }
};

// Reads PNG/JPEG/BMP/PPM (stb_image) as RGB (grey replicated, alpha
// dropped); writes PNG atomically. False and *error on failure.
bool LoadImage(const std::string& path, Image* out, std::string* error);
bool WritePng(const std::string& path, const Image& image, std::string* error);

// One side-information choice. filter is a code (FilterCode), not an index.
struct BlockTuple {
  uint8_t predictor = 0;
  uint8_t filter = 0;
  uint8_t scan = 0;
  uint8_t interleave = 0;
};
inline bool operator==(const BlockTuple& a, const BlockTuple& b) {
  return a.predictor == b.predictor && a.filter == b.filter &&
         a.scan == b.scan && a.interleave == b.interleave;
}

// The block's 9x10x3 window (layout above) into out[kWindowBytes].
void BlockWindow(const Image& image, int32_t block, uint8_t* out);

// Exhaustive-search results for one block. Per-option arrays hold the
// minimum bits over every evaluated tuple with that option, kPrunedBits for
// an option never evaluated. filter_bits is indexed by FilterIndex.
struct BlockLabels {
  BlockTuple best, second;
  uint32_t best_bits = kPrunedBits, second_bits = kPrunedBits;
  uint32_t predictor_bits[kPredictors];
  uint32_t filter_bits[kFilters];
  uint32_t perm_bits[kPermutations];
  uint32_t primary_bits[kPrimaries];
  uint32_t secondary_bits[kSecondaries];
  uint32_t scan_bits[kScans];
  uint32_t interleave_bits[kInterleaves];
  uint32_t estimates = 0;  // tuples evaluated
};

// What a search may try: the (predictor, filter) pairs, crossed with the
// scans and interleaves. Empty lists mean "all". With energy_prune, TLG8's
// rule is applied inside the allowed set: a predictor whose residual energy
// (sum of squares of the int8 residuals over the block, 3 channels) exceeds
// kEnergyPruneFactor x the smallest among the allowed predictors is
// dropped, then a (predictor, filter) pair whose filtered energy exceeds
// kEnergyPruneFactor x the smallest among the surviving pairs.
struct Candidates {
  std::vector<uint8_t> predictors;  // used when pairs is empty
  std::vector<uint8_t> filters;     // codes; used when pairs is empty
  // Explicit (predictor, filter code) pairs; overrides the two lists.
  std::vector<std::pair<uint8_t, uint8_t>> pairs;
  std::vector<uint8_t> scans;
  std::vector<uint8_t> interleaves;
  bool energy_prune = false;
};

// Searches the block over `candidates` (nullptr: all 12,288 tuples, no
// pruning). Ties keep the first tuple in search order (predictor, filter
// index, scan, interleave ascending). Thread-safe (no shared state).
void SearchBlock(const Image& image, int32_t block,
                 const Candidates* candidates, BlockLabels* out);
// The codec's default search: all options with energy pruning.
Candidates DefaultSearch();

// Exact residual bits of one block under one tuple (the cost).
uint32_t EstimateBlockBits(const Image& image, int32_t block,
                           const BlockTuple& tuple);

// ---- No-model heuristics (pixels only) ----
// Predictors ascending by residual energy; filters (codes) ascending by
// filtered energy under `predictor`; scans ascending by the luma
// ((R + 2G + B) >> 2) total variation along the scan. Ties by index.
void RankPredictorsByEnergy(const Image& image, int32_t block,
                            uint8_t out[kPredictors]);
// Predictors ascending by the sum of |residual|: not the codec's ranking,
// but a stronger no-model baseline here (the adaptive Golomb-Rice bits
// follow magnitudes, not squares); ties by index.
void RankPredictorsByMagnitude(const Image& image, int32_t block,
                               uint8_t out[kPredictors]);
void RankFiltersByEnergy(const Image& image, int32_t block, int predictor,
                         uint8_t out[kFilters]);
void RankScansByTotalVariation(const Image& image, int32_t block,
                               uint8_t out[kScans]);

// ---- The codec ----
// Stream: magic "KBLK", version, width, height (see docs/blocklab.md), then
// per block in raster order 14 bits of side information (predictor 3,
// filter index 7, scan 3, interleave 1) and the Golomb-Rice codes of its
// residuals. tuples[i] is block i's choice.
struct EncodeResult {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> block_bits;  // residual bits per block
  uint64_t side_bits = 0;
};
bool EncodeImage(const Image& image, const std::vector<BlockTuple>& tuples,
                 EncodeResult* out, std::string* error);
// Rejects a corrupt or truncated stream with *error (never reads past it).
bool DecodeImage(const uint8_t* bytes, size_t size, Image* out,
                 std::string* error);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_BLOCK_CODER_H_
