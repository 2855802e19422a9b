// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain:
// a big-endian header (magic 0x0000TTRR: element type TT, rank RR; then RR
// uint32 dimensions) followed by the elements in row-major order. Only
// unsigned-byte elements (type 0x08) are supported: images are idx3
// (magic 0x00000803, N x rows x cols), labels idx1 (0x00000801, N).
//
// Declared sizes are never trusted: memory grows only as the file actually
// delivers bytes, so a corrupt header claiming 2^31 images in a 100-byte file
// is an error, not a giant allocation.
#ifndef KILN_TOOLCHAIN_DATA_IDX_READER_H_
#define KILN_TOOLCHAIN_DATA_IDX_READER_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

// The largest IDX payload accepted (4 GiB).
constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 32;

// Reads the unsigned-byte IDX file `path`, which must have `rank`
// dimensions. Sets *dims and APPENDS the elements to *data (on failure *data
// is left as it was). The file must hold exactly what its header says.
bool ReadIdxUint8(const std::string& path, int rank,
                  std::vector<uint32_t>* dims, std::vector<uint8_t>* data,
                  std::string* error);

// Appends the samples of an idx3 images file and its idx1 labels file to
// *out, all with source split `split`. *out must either be empty (its
// item_shape is then set to {rows, cols, 1}) or hold images of the same
// size; out->class_names must already be set: every label must be below its
// size. origins are "<path>#<index>" with the images file's path and the
// index within that file.
bool AppendIdxPair(const std::string& images_path,
                   const std::string& labels_path, Split split, Dataset* out,
                   std::string* error);

// Loads one images/labels pair as a uint8 classification dataset with item
// shape {rows, cols, 1}. If `class_names` is empty the classes are "0" to
// "<largest label>" (at least two). On failure *out is cleared.
bool LoadIdxPair(const std::string& images_path, const std::string& labels_path,
                 const std::vector<std::string>& class_names, Dataset* out,
                 std::string* error);

// Where the Debian package dataset-fashion-mnist installs the files.
std::string DefaultFashionMnistDir();  // "/usr/share/datasets/fashion-mnist"

// The ten Fashion-MNIST class names, in label order.
const std::vector<std::string>& FashionMnistClassNames();

// Loads Fashion-MNIST from `dir` (train-images-idx3-ubyte[.gz] and friends;
// the .gz name is preferred when both exist): 70000 samples, the 60000
// training ones first (source split kNone), then the 10000 t10k ones
// (kTest). Item shape {28, 28, 1}, uint8. On failure *out is cleared.
bool LoadFashionMnist(const std::string& dir, Dataset* out, std::string* error);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_IDX_READER_H_
