// IDX files (toolchain/data/idx_reader.h), plain or gzip (detected by
// content). Input: one mode byte, then
//   mode & 1 == 0: one IDX file, read with ReadIdxUint8 at rank
//                  1 + (mode >> 1) % 3;
//   mode & 1 == 1: an images/labels pair: a little-endian u16 length L,
//                  L bytes of idx3 images, the rest idx1 labels, loaded with
//                  LoadIdxPair (classes inferred, or the ten Fashion-MNIST
//                  names when mode & 2).
// The reader must return true with consistent sizes, or false with a message
// and its outputs as they were; never crash and never allocate what the
// header claims before the bytes arrive (the sanitizer's allocation limit
// catches that). Seeds: fuzz/corpus/kiln_fuzz_idx.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "fuzz/fuzz_file.h"
#include "toolchain/data/idx_reader.h"

namespace {

void ReadOne(const uint8_t* data, size_t size, int rank) {
  static kiln_fuzz::FuzzFile file("idx");
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes = {1, 2, 3};  // must survive a failure
  std::string error;
  if (kiln::data::ReadIdxUint8(file.Set(data, size), rank, &dims, &bytes,
                               &error)) {
    uint64_t n = 1;
    for (uint32_t d : dims) n *= d;
    if (dims.size() != static_cast<size_t>(rank) || bytes.size() != 3 + n) {
      abort();
    }
  } else if (error.empty() || bytes.size() != 3 || !dims.empty()) {
    abort();
  }
}

void ReadPair(const uint8_t* data, size_t size, bool named) {
  static kiln_fuzz::FuzzFile images("idx-images"), labels("idx-labels");
  if (size < 2) return;
  size_t split = data[0] | size_t{data[1]} << 8;
  data += 2;
  size -= 2;
  if (split > size) split = size;
  kiln::data::Dataset out;
  std::string error;
  const std::vector<std::string> none;
  const bool ok = kiln::data::LoadIdxPair(
      images.Set(data, split), labels.Set(data + split, size - split),
      named ? kiln::data::FashionMnistClassNames() : none, &out, &error);
  if (!ok) {
    if (error.empty() || out.size() != 0) abort();
    return;
  }
  if (out.item_shape.size() != 3 || out.labels.size() != out.size() ||
      out.u8.size() != out.size() * out.item_elements() ||
      out.class_names.size() < 2) {
    abort();
  }
  for (int32_t label : out.labels) {
    if (label < 0 || static_cast<size_t>(label) >= out.class_names.size()) {
      abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  if (mode & 1) {
    ReadPair(data + 1, size - 1, (mode & 2) != 0);
  } else {
    ReadOne(data + 1, size - 1, 1 + (mode >> 1) % 3);
  }
  return 0;
}
