// The scikit-learn "digits" dataset (UCI optical recognition of handwritten
// digits, test set), vendored at toolchain/data/vendor/digits/digits.csv.gz:
// 1797 rows of 64 pixel counts then the digit, no header (see digits.rst and
// LICENSE there).
#ifndef KILN_TOOLCHAIN_DATA_DIGITS_H_
#define KILN_TOOLCHAIN_DATA_DIGITS_H_

#include <string>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

// Each pixel counts the "on" pixels of a 4x4 block, so values run 0..16:
// the full scale is 16, not 255. The raw counts are stored as they are.
constexpr int kDigitsPixelScale = 16;

// The vendored file in the source tree this library was built from.
std::string DefaultDigitsPath();

// Loads the digits CSV (gzip or plain) at `path`: item shape {8, 8, 1},
// uint8 values 0..16, classes "0".."9", origins "<path>:<line>", no source
// splits. Errors name the file and line. On failure *out is cleared.
bool LoadDigits(const std::string& path, Dataset* out, std::string* error);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_DIGITS_H_
