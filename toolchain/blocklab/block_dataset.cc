#include "toolchain/blocklab/block_dataset.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>

#include "toolchain/atomic_file.h"
#include "toolchain/blocklab/parallel_for.h"
#include "toolchain/data/catch_errors.h"
#include "toolchain/data/gzip_file.h"

namespace kiln {
namespace blocklab {
namespace {

// ---- The photographs ----

constexpr char kSkimageDir[] = "/usr/lib/python3/dist-packages/skimage/data/";
constexpr char kSklearnDir[] =
    "/usr/lib/python3/dist-packages/sklearn/datasets/images/";
constexpr char kSkimage[] = "python3-skimage";
constexpr char kSklearn[] = "python3-sklearn";

struct PhotoEntry {
  const char* name;
  const char* dir;
  const char* file;
  const char* package;
  const char* licence;
};

// Licences: Debian's copyright files cover the packages as a whole
// (/usr/share/doc/python3-skimage/copyright: "Files: *" BSD-3-Clause;
// /usr/share/doc/python3-sklearn/copyright: likewise, the images are not
// named) and do not single the sample images out. The per-image terms
// below are those the packages themselves state: skimage's data loader
// docstrings (skimage/data/_fetchers.py) and sklearn's
// datasets/images/README.txt. motorcycle_right (the stereo twin of
// motorcycle_left) is left out on purpose.
const PhotoEntry kPhotos[] = {
    {"astronaut", kSkimageDir, "astronaut.png", kSkimage,
     "public domain: NASA photograph, \"No known copyright restrictions, "
     "released into the public domain\" (skimage/data/_fetchers.py)"},
    {"chelsea", kSkimageDir, "chelsea.png", kSkimage,
     "CC0 by the photographer, Stefan van der Walt "
     "(skimage/data/_fetchers.py)"},
    {"coffee", kSkimageDir, "coffee.png", kSkimage,
     "CC0 by the photographer, Rachel Michetti; courtesy of Pikolo Espresso "
     "Bar (skimage/data/_fetchers.py)"},
    {"ihc", kSkimageDir, "ihc.png", kSkimage,
     "\"No known copyright restrictions\" (CMMI immunohistochemistry image, "
     "skimage/data/_fetchers.py)"},
    {"motorcycle_left", kSkimageDir, "motorcycle_left.png", kSkimage,
     "unclear: Middlebury 2014 stereo benchmark image (Scharstein et al.), "
     "no image licence stated; see /usr/share/doc/python3-skimage/copyright "
     "(BSD-3-Clause for Files: *)"},
    {"rocket", kSkimageDir, "rocket.jpg", kSkimage,
     "public domain: SpaceX launch photo released into the public domain "
     "(skimage/data/_fetchers.py)"},
    {"hubble_deep_field", kSkimageDir, "hubble_deep_field.jpg", kSkimage,
     "public domain: NASA/HubbleSite image, \"may be freely used in the "
     "public domain\" (skimage/data/_fetchers.py)"},
    {"china", kSklearnDir, "china.jpg", kSklearn,
     "CC BY 2.0, attribution danielbuechele (Flickr) "
     "(sklearn/datasets/images/README.txt)"},
    {"flower", kSklearnDir, "flower.jpg", kSklearn,
     "CC BY 2.0, Flickr photo by vultilion (sklearn/datasets/images/"
     "README.txt, whose attribution line names danielbuechele)"},
};

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// ---- The cache file ----
//
// Header (40 bytes, little-endian):
//   0 "KBDS"  4 u32 version  8 u32 record bytes  12 u32 image count
//   16 u64 example count  24 u64 payload bytes  32 u32 CRC-32 of the
//   payload  36 u32 reserved (0)
// Payload: per image a u16 name length (1..kMaxNameBytes) and the name;
// then the records (kRecordBytes each, layout in EncodeRecord).

// Read cap: about 5 million 808-byte records.
constexpr uint64_t kMaxDatasetFileBytes = 4ull << 30;
constexpr char kMagic[4] = {'K', 'B', 'D', 'S'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 40;
constexpr size_t kLabelWords = kPredictors + kFilters + kPermutations +
                               kPrimaries + kSecondaries + kScans +
                               kInterleaves;  // 128
constexpr size_t kRecordBytes =
    2 + 4 + kWindowBytes + 4 + 4 + 4 + 4 + 4 * kLabelWords + 4;  // 808
constexpr size_t kMaxNameBytes = 255;
constexpr size_t kMaxImages = 65535;

void PutU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t GetU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t Crc32(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt chunk =
        static_cast<uInt>(std::min<size_t>(size, size_t{1} << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// The per-option arrays of a label set, in file order.
template <typename Labels, typename Fn>
void ForEachLabelArray(Labels& l, Fn fn) {
  fn(l.predictor_bits, kPredictors);
  fn(l.filter_bits, kFilters);
  fn(l.perm_bits, kPermutations);
  fn(l.primary_bits, kPrimaries);
  fn(l.secondary_bits, kSecondaries);
  fn(l.scan_bits, kScans);
  fn(l.interleave_bits, kInterleaves);
}

void PutTuple(uint8_t* p, const BlockTuple& t) {
  p[0] = t.predictor;
  p[1] = t.filter;
  p[2] = t.scan;
  p[3] = t.interleave;
}
bool GetTuple(const uint8_t* p, BlockTuple* t) {
  t->predictor = p[0];
  t->filter = p[1];
  t->scan = p[2];
  t->interleave = p[3];
  return t->predictor < kPredictors && FilterPerm(t->filter) < kPermutations &&
         t->scan < kScans && t->interleave < kInterleaves;
}

// Record: u16 image, i32 block, window[270], best tuple (predictor, filter
// code, scan, interleave: one byte each), second tuple, u32 best bits,
// u32 second bits, u32 x 128 per-option bits (predictor 8, filter 96 by
// FilterIndex, perm 6, primary 4, secondary 4, scan 8, interleave 2),
// u32 estimates.
void EncodeRecord(const BlockExample& e, uint8_t* p) {
  PutU16(p, e.image);
  PutU32(p + 2, static_cast<uint32_t>(e.block));
  memcpy(p + 6, e.window, kWindowBytes);
  p += 6 + kWindowBytes;
  PutTuple(p, e.labels.best);
  PutTuple(p + 4, e.labels.second);
  PutU32(p + 8, e.labels.best_bits);
  PutU32(p + 12, e.labels.second_bits);
  p += 16;
  ForEachLabelArray(e.labels, [&p](const uint32_t* a, int n) {
    for (int i = 0; i < n; ++i, p += 4) PutU32(p, a[i]);
  });
  PutU32(p, e.labels.estimates);
}

// Returns "" or what is wrong with the record.
std::string DecodeRecord(const uint8_t* p, size_t image_count,
                         BlockExample* e) {
  e->image = GetU16(p);
  e->block = static_cast<int32_t>(GetU32(p + 2));
  if (e->image >= image_count) {
    return "image index " + std::to_string(e->image) + " but only " +
           std::to_string(image_count) + " images";
  }
  if (e->block < 0) return "negative block index";
  memcpy(e->window, p + 6, kWindowBytes);
  p += 6 + kWindowBytes;
  if (!GetTuple(p, &e->labels.best) || !GetTuple(p + 4, &e->labels.second)) {
    return "side-information tuple out of range";
  }
  e->labels.best_bits = GetU32(p + 8);
  e->labels.second_bits = GetU32(p + 12);
  p += 16;
  ForEachLabelArray(e->labels, [&p](uint32_t* a, int n) {
    for (int i = 0; i < n; ++i, p += 4) a[i] = GetU32(p);
  });
  e->labels.estimates = GetU32(p);
  if (e->labels.estimates > static_cast<uint32_t>(kTuples)) {
    return "estimate count " + std::to_string(e->labels.estimates) +
           " exceeds " + std::to_string(kTuples);
  }
  return "";
}

}  // namespace

std::vector<Photo> BundledPhotos() {
  std::vector<Photo> photos;
  for (const PhotoEntry& e : kPhotos) {
    Photo p;
    p.name = e.name;
    p.path = std::string(e.dir) + e.file;
    p.package = e.package;
    p.licence = e.licence;
    if (IsRegularFile(p.path)) photos.push_back(std::move(p));
  }
  return photos;
}

void AppendImageBlocks(const Image& image, uint16_t image_id, int threads,
                       BlockDataset* out) {
  const int32_t blocks = image.blocks();
  if (blocks <= 0) return;
  const size_t first = out->examples.size();
  out->examples.resize(first + static_cast<size_t>(blocks));
  BlockExample* examples = out->examples.data() + first;

  // Every block's result goes to its own slot, so the output (raster order)
  // does not depend on the thread count or on scheduling.
  ParallelFor(static_cast<size_t>(blocks), threads, [&](size_t i) {
    const int32_t b = static_cast<int32_t>(i);
    BlockExample& e = examples[b];
    e.image = image_id;
    e.block = b;
    BlockWindow(image, b, e.window);
    SearchBlock(image, b, nullptr, &e.labels);
  });
}

bool WriteBlockDataset(const std::string& path, const BlockDataset& dataset,
                       std::string* error) {
  return data::CatchErrors(path, error, [&]() -> bool {
    if (dataset.images.size() > kMaxImages) {
      *error = path + ": too many images (" +
               std::to_string(dataset.images.size()) + ", at most " +
               std::to_string(kMaxImages) + ")";
      return false;
    }
    size_t names_bytes = 0;
    for (const std::string& name : dataset.images) {
      if (name.empty() || name.size() > kMaxNameBytes) {
        *error = path + ": image name '" + name + "' must have 1.." +
                 std::to_string(kMaxNameBytes) + " bytes";
        return false;
      }
      names_bytes += 2 + name.size();
    }
    for (const BlockExample& e : dataset.examples) {
      if (e.image >= dataset.images.size()) {
        *error = path + ": an example names image " + std::to_string(e.image) +
                 " of " + std::to_string(dataset.images.size());
        return false;
      }
    }
    const size_t payload_bytes =
        names_bytes + dataset.examples.size() * kRecordBytes;
    std::vector<uint8_t> bytes(kHeaderBytes + payload_bytes);
    uint8_t* p = bytes.data() + kHeaderBytes;
    for (const std::string& name : dataset.images) {
      PutU16(p, static_cast<uint16_t>(name.size()));
      memcpy(p + 2, name.data(), name.size());
      p += 2 + name.size();
    }
    for (const BlockExample& e : dataset.examples) {
      EncodeRecord(e, p);
      p += kRecordBytes;
    }
    uint8_t* h = bytes.data();
    memcpy(h, kMagic, 4);
    PutU32(h + 4, kVersion);
    PutU32(h + 8, static_cast<uint32_t>(kRecordBytes));
    PutU32(h + 12, static_cast<uint32_t>(dataset.images.size()));
    PutU64(h + 16, dataset.examples.size());
    PutU64(h + 24, payload_bytes);
    PutU32(h + 32, Crc32(bytes.data() + kHeaderBytes, payload_bytes));
    PutU32(h + 36, 0);
    return WriteFileAtomic(path, bytes, error);
  });
}

bool ReadBlockDataset(const std::string& path, BlockDataset* out,
                      std::string* error) {
  return data::CatchErrors(path, error, [&]() -> bool {
    std::vector<uint8_t> bytes;
    if (!data::ReadFileMaybeGzip(path, kMaxDatasetFileBytes, &bytes, error))
      return false;
    auto fail = [&](const std::string& why) {
      *error = path + ": " + why;
      return false;
    };
    if (bytes.size() < 4 || memcmp(bytes.data(), kMagic, 4) != 0) {
      return fail("not a block dataset (magic is not KBDS)");
    }
    if (bytes.size() < kHeaderBytes) {
      return fail("truncated header (" + std::to_string(bytes.size()) +
                  " bytes)");
    }
    const uint8_t* h = bytes.data();
    const uint32_t version = GetU32(h + 4);
    if (version != kVersion) {
      return fail("version " + std::to_string(version) + " (this build reads " +
                  std::to_string(kVersion) + ")");
    }
    if (GetU32(h + 8) != kRecordBytes) {
      return fail("record size " + std::to_string(GetU32(h + 8)) +
                  ", expected " + std::to_string(kRecordBytes));
    }
    const uint64_t image_count = GetU32(h + 12);
    const uint64_t example_count = GetU64(h + 16);
    const uint64_t payload_bytes = GetU64(h + 24);
    const uint32_t crc = GetU32(h + 32);
    const uint64_t present = bytes.size() - kHeaderBytes;
    if (payload_bytes != present) {
      return fail("header says " + std::to_string(payload_bytes) +
                  " payload bytes but the file holds " +
                  std::to_string(present) +
                  (present < payload_bytes ? " (truncated)" : ""));
    }
    if (GetU32(h + 36) != 0) return fail("reserved header field is not 0");
    const uint8_t* payload = bytes.data() + kHeaderBytes;
    if (Crc32(payload, present) != crc) {
      return fail("CRC-32 mismatch (corrupt file)");
    }
    if (image_count > kMaxImages) {
      return fail("image count " + std::to_string(image_count) +
                  " is out of range");
    }
    // Every count is checked against the bytes present before anything is
    // allocated for it.
    if (image_count * 3 > present) {
      return fail("header says " + std::to_string(image_count) +
                  " images but the payload is too small for their names");
    }
    BlockDataset result;
    size_t pos = 0;
    result.images.reserve(static_cast<size_t>(image_count));
    for (uint64_t i = 0; i < image_count; ++i) {
      if (present - pos < 2) return fail("truncated image names");
      const size_t length = GetU16(payload + pos);
      pos += 2;
      if (length == 0 || length > kMaxNameBytes) {
        return fail("image name " + std::to_string(i) + " has length " +
                    std::to_string(length));
      }
      if (present - pos < length) return fail("truncated image names");
      result.images.emplace_back(reinterpret_cast<const char*>(payload + pos),
                                 length);
      pos += length;
    }
    const uint64_t rest = present - pos;
    if (rest % kRecordBytes != 0 || rest / kRecordBytes != example_count) {
      return fail("header says " + std::to_string(example_count) +
                  " examples but " + std::to_string(rest) +
                  " record bytes follow the names");
    }
    result.examples.resize(static_cast<size_t>(example_count));
    for (uint64_t i = 0; i < example_count; ++i) {
      const std::string why =
          DecodeRecord(payload + pos + i * kRecordBytes, result.images.size(),
                       &result.examples[i]);
      if (!why.empty()) {
        return fail("example " + std::to_string(i) + ": " + why);
      }
    }
    *out = std::move(result);
    return true;
  });
}

}  // namespace blocklab
}  // namespace kiln
