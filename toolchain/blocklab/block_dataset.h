// Block datasets for the side-information model: every block of a set of
// real photographs with its 9x10x3 pixel window (the model input) and the
// exhaustive search's labels (the targets), and the binary cache file that
// keeps them between runs.
//
// The photographs come from Debian packages (python3-skimage's and
// python3-sklearn's sample images, installed by scripts/setup.sh);
// BundledPhotos lists those present with their licences.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_BLOCK_DATASET_H_
#define KILN_TOOLCHAIN_BLOCKLAB_BLOCK_DATASET_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/blocklab/block_coder.h"

namespace kiln {
namespace blocklab {

struct Photo {
  std::string name;     // short id, e.g. "astronaut"
  std::string path;     // absolute path of the file
  std::string package;  // Debian package that ships it
  std::string licence;  // as the package's copyright file states it
};
// The photographs of the fixed list that exist on this machine, in list
// order (deterministic).
std::vector<Photo> BundledPhotos();

struct BlockExample {
  uint16_t image = 0;  // index into BlockDataset::images
  int32_t block = 0;   // raster index within the image
  uint8_t window[kWindowBytes];
  BlockLabels labels;  // full search (no pruning): every option evaluated
};

struct BlockDataset {
  std::vector<std::string> images;  // names, e.g. "astronaut"
  std::vector<BlockExample> examples;
};

// Labels every block of `image` with the full search (SearchBlock with no
// candidates) on `threads` threads (results independent of the count) and
// appends the examples with image id `image_id`.
void AppendImageBlocks(const Image& image, uint16_t image_id, int threads,
                       BlockDataset* out);

// Binary cache: magic, version, CRC-32 of the payload; written atomically.
// Read rejects a wrong magic/version/CRC or truncation with *error.
bool WriteBlockDataset(const std::string& path, const BlockDataset& dataset,
                       std::string* error);
bool ReadBlockDataset(const std::string& path, BlockDataset* out,
                      std::string* error);

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_BLOCK_DATASET_H_
