// Block coder stream bytes -> DecodeImage (toolchain/blocklab/block_codec.cc).
// A stream is untrusted input: whatever the bytes, the decoder must return
// an image or an error, never crash, read out of bounds or run away (run
// with ASan+UBSan). A stream that decodes is re-encoded losslessly with
// arbitrary tuples and must decode to the same image.
// Seeds: fuzz/corpus/kiln_fuzz_block_stream (valid small streams).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "toolchain/blocklab/block_coder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::blocklab;
  Image image;
  std::string error;
  if (!DecodeImage(data, size, &image, &error)) return 0;
  if (image.blocks() > 4096) return 0;  // keep each run fast
  // Re-encode with tuples taken from the input bytes, and decode again.
  std::vector<BlockTuple> tuples(static_cast<size_t>(image.blocks()));
  for (size_t b = 0; b < tuples.size(); ++b) {
    const uint8_t v = size > 0 ? data[b % size] : 0;
    tuples[b].predictor = v & 7;
    tuples[b].filter = static_cast<uint8_t>(FilterCodeAt(v % kFilters));
    tuples[b].scan = (v >> 3) & 7;
    tuples[b].interleave = (v >> 6) & 1;
  }
  EncodeResult encoded;
  if (!EncodeImage(image, tuples, &encoded, &error)) abort();
  Image again;
  if (!DecodeImage(encoded.bytes.data(), encoded.bytes.size(), &again,
                   &error) ||
      again.width != image.width || again.height != image.height ||
      again.rgb != image.rgb)
    abort();
  return 0;
}
