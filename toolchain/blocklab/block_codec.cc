// The blocklab stream (docs/blocklab.md, "Stream format"):
//
//   "KBLK"  uint8 version (1)  uint32 LE width  uint32 LE height
//   then MSB-first bits, per block in raster order: predictor (3), filter
//   index (7), scan (3), interleave (1), then the block's Golomb-Rice codes
//   in its scan/interleave order; zero bits pad the last byte.
//
// The decoder reads every block's residuals first and rebuilds pixels in
// image raster order afterwards: predictor d (top-right) of a block's
// pixel reads the row above in the block to its right, which block raster
// order would not have decoded yet.
#include <string.h>

#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_pixels.h"
#include "toolchain/blocklab/colour_filter.h"
#include "toolchain/blocklab/golomb_rice.h"
#include "toolchain/blocklab/scan_orders.h"

namespace kiln {
namespace blocklab {
namespace {

constexpr uint8_t kMagic[4] = {'K', 'B', 'L', 'K'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 13;
constexpr int kSideBits = 3 + 7 + 3 + 1;

bool ValidSize(int64_t width, int64_t height) {
  return width >= 1 && height >= 1 && width <= kMaxImageSide &&
         height <= kMaxImageSide && width * height <= kMaxImagePixels;
}

void PutU32(uint32_t v, std::vector<uint8_t>* out) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
         uint32_t{p[3]} << 24;
}

std::string BlockError(int32_t block, const std::string& what) {
  return "block stream: block " + std::to_string(block) + ": " + what;
}

}  // namespace

bool EncodeImage(const Image& image, const std::vector<BlockTuple>& tuples,
                 EncodeResult* out, std::string* error) {
  if (!ValidSize(image.width, image.height) ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    *error = "block encode: invalid image " + std::to_string(image.width) +
             "x" + std::to_string(image.height) + " with " +
             std::to_string(image.rgb.size()) + " bytes";
    return false;
  }
  if (tuples.size() != static_cast<size_t>(image.blocks())) {
    *error = "block encode: " + std::to_string(tuples.size()) + " tuples for " +
             std::to_string(image.blocks()) + " blocks";
    return false;
  }
  for (size_t i = 0; i < tuples.size(); ++i) {
    const BlockTuple& t = tuples[i];
    if (t.predictor >= kPredictors || t.filter >= kFilters ||
        t.scan >= kScans || t.interleave >= kInterleaves) {
      *error =
          "block encode: block " + std::to_string(i) + ": tuple out of range";
      return false;
    }
  }
  *out = EncodeResult();
  out->bytes.assign(kMagic, kMagic + 4);
  out->bytes.push_back(kVersion);
  PutU32(static_cast<uint32_t>(image.width), &out->bytes);
  PutU32(static_cast<uint32_t>(image.height), &out->bytes);
  out->block_bits.resize(tuples.size());

  BitWriter writer(&out->bytes);
  for (int32_t block = 0; block < image.blocks(); ++block) {
    const BlockTuple& t = tuples[block];
    writer.Put(t.predictor, 3);
    writer.Put(static_cast<uint32_t>(FilterIndex(t.filter)), 7);
    writer.Put(t.scan, 3);
    writer.Put(t.interleave, 1);
    out->side_bits += kSideBits;

    const BlockRect rect = BlockAt(image, block);
    uint8_t window[kWindowBytes];
    BlockWindow(image, block, window);
    int8_t residual[3][64], filtered[3][64];
    BlockResiduals(window, rect, t.predictor, residual);
    FilterBlock(residual, t.filter, filtered);
    uint16_t sequence[3 * 64];
    const int count =
        ScanSequence(t.scan, t.interleave, rect.w, rect.h, sequence);
    const uint64_t start = writer.bits_written();
    GolombState state;
    for (int i = 0; i < count; ++i) {
      WriteGolomb(&writer, &state,
                  ZigZag(filtered[sequence[i] / 64][sequence[i] % 64]));
    }
    out->block_bits[block] =
        static_cast<uint32_t>(writer.bits_written() - start);
  }
  writer.Flush();
  return true;
}

bool DecodeImage(const uint8_t* bytes, size_t size, Image* out,
                 std::string* error) {
  if (size < kHeaderBytes) {
    *error = "block stream: " + std::to_string(size) +
             " bytes, shorter than the 13-byte header";
    return false;
  }
  if (memcmp(bytes, kMagic, 4) != 0) {
    *error = "block stream: bad magic (not a KBLK stream)";
    return false;
  }
  if (bytes[4] != kVersion) {
    *error = "block stream: unsupported version " + std::to_string(bytes[4]);
    return false;
  }
  const uint32_t width = GetU32(bytes + 5);
  const uint32_t height = GetU32(bytes + 9);
  if (!ValidSize(width, height)) {
    *error = "block stream: image size " + std::to_string(width) + "x" +
             std::to_string(height) + " out of range";
    return false;
  }
  Image image;
  image.width = static_cast<int32_t>(width);
  image.height = static_cast<int32_t>(height);
  // Every block costs 14 bits and every residual at least 1: reject a
  // header that promises more than the stream can hold before allocating.
  const uint64_t pixels = uint64_t{width} * height;
  const uint64_t min_bits =
      uint64_t{static_cast<uint32_t>(image.blocks())} * kSideBits + pixels * 3;
  if ((size - kHeaderBytes) * uint64_t{8} < min_bits) {
    *error = "block stream: truncated (" + std::to_string(size) +
             " bytes cannot hold a " + std::to_string(width) + "x" +
             std::to_string(height) + " image)";
    return false;
  }

  // Pass 1: side information and residuals of every block.
  BitReader reader(bytes + kHeaderBytes, size - kHeaderBytes);
  std::vector<int8_t> residuals(pixels * 3);
  std::vector<uint8_t> predictors(image.blocks());
  for (int32_t block = 0; block < image.blocks(); ++block) {
    uint32_t predictor = 0, filter = 0, scan = 0, interleave = 0;
    if (!reader.Get(3, &predictor) || !reader.Get(7, &filter) ||
        !reader.Get(3, &scan) || !reader.Get(1, &interleave)) {
      *error = BlockError(block, "truncated side information");
      return false;
    }
    if (filter >= kFilters) {
      *error = BlockError(block, "filter index " + std::to_string(filter) +
                                     " out of range (0..95)");
      return false;
    }
    predictors[block] = static_cast<uint8_t>(predictor);
    const BlockRect rect = BlockAt(image, block);
    uint16_t sequence[3 * 64];
    const int count =
        ScanSequence(static_cast<int>(scan), static_cast<int>(interleave),
                     rect.w, rect.h, sequence);
    int8_t filtered[3][64] = {};
    GolombState state;
    for (int i = 0; i < count; ++i) {
      int m = 0;
      if (!ReadGolomb(&reader, &state, &m)) {
        *error = BlockError(block, reader.position() > reader.size_bits()
                                       ? "truncated residuals"
                                       : "invalid Golomb-Rice code");
        return false;
      }
      filtered[sequence[i] / 64][sequence[i] % 64] =
          static_cast<int8_t>(UnZigZag(m));
    }
    int8_t residual[3][64];
    InverseFilterBlock(filtered, FilterCodeAt(static_cast<int>(filter)),
                       residual);
    for (int y = 0; y < rect.h; ++y) {
      for (int x = 0; x < rect.w; ++x) {
        const size_t at =
            (static_cast<size_t>(rect.y0 + y) * width + rect.x0 + x) * 3;
        for (int ch = 0; ch < 3; ++ch) {
          residuals[at + ch] = residual[ch][y * kBlockSize + x];
        }
      }
    }
  }
  // Only zero padding may follow the last code, and only to the byte end.
  const uint64_t end = reader.position();
  if ((end + 7) / 8 != size - kHeaderBytes) {
    *error =
        "block stream: " + std::to_string(size - kHeaderBytes - (end + 7) / 8) +
        " bytes of trailing data after the last block";
    return false;
  }
  uint32_t padding = 0;
  if (!reader.Get(static_cast<int>((8 - end % 8) % 8), &padding) ||
      padding != 0) {
    *error = "block stream: non-zero padding after the last block";
    return false;
  }

  // Pass 2: pixels in image raster order (every neighbour is final).
  image.rgb.assign(pixels * 3, 0);
  const int32_t blocks_x = image.blocks_x();
  for (int32_t y = 0; y < image.height; ++y) {
    for (int32_t x = 0; x < image.width; ++x) {
      const int predictor =
          predictors[(y / kBlockSize) * blocks_x + x / kBlockSize];
      const size_t at = (static_cast<size_t>(y) * width + x) * 3;
      for (int ch = 0; ch < 3; ++ch) {
        const int pred = Predict(predictor, PixelOrZero(image, ch, x - 1, y),
                                 PixelOrZero(image, ch, x, y - 1),
                                 PixelOrZero(image, ch, x - 1, y - 1),
                                 PixelOrZero(image, ch, x + 1, y - 1));
        image.rgb[at + ch] = static_cast<uint8_t>(pred + residuals[at + ch]);
      }
    }
  }
  *out = std::move(image);
  return true;
}

}  // namespace blocklab
}  // namespace kiln
