// Block dataset cache files, .kbds (toolchain/blocklab/block_dataset.h),
// plain or gzip. ReadBlockDataset must return a consistent dataset or false
// with a message, and allocate only for counts the file's bytes can back.
// The fuzzer cannot forge the payload's CRC-32 by chance, so the input is
// taken as is when its first byte is odd and otherwise (first byte dropped)
// gets its CRC field recomputed, which lets mutations reach the payload
// checks. Seeds: fuzz/corpus/kiln_fuzz_kbds.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "fuzz/fuzz_file.h"
#include "toolchain/blocklab/block_dataset.h"

namespace {

constexpr size_t kHeaderBytes = 40;  // block_dataset.cc's layout
constexpr size_t kCrcOffset = 32;

// Recomputes the CRC-32 of a plain (not gzip) KBDS file's payload.
void FixCrc(std::vector<uint8_t>* bytes) {
  if (bytes->size() < kHeaderBytes || memcmp(bytes->data(), "KBDS", 4) != 0) {
    return;
  }
  const uLong crc = crc32(0L, bytes->data() + kHeaderBytes,
                          static_cast<uInt>(bytes->size() - kHeaderBytes));
  for (int i = 0; i < 4; ++i) {
    (*bytes)[kCrcOffset + i] = static_cast<uint8_t>(crc >> (8 * i));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kiln_fuzz::FuzzFile file("dataset.kbds");
  if (size < 1) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) == 0) FixCrc(&bytes);
  kiln::blocklab::BlockDataset out;
  out.images = {"kept"};  // untouched on failure
  std::string error;
  if (!kiln::blocklab::ReadBlockDataset(file.Set(bytes.data(), bytes.size()),
                                        &out, &error)) {
    if (error.empty() || out.images.size() != 1 || out.images[0] != "kept") {
      abort();
    }
    return 0;
  }
  for (const std::string& name : out.images) {
    if (name.empty() || name.size() > 255) abort();
  }
  for (const kiln::blocklab::BlockExample& e : out.examples) {
    if (e.image >= out.images.size() || e.block < 0) abort();
  }
  return 0;
}
