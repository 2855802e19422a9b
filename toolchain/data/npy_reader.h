// NumPy .npy files (format versions 1.0, 2.0 and 3.0): the arrays the ONNX
// importer takes as calibration and evaluation data.
//
// Layout: the magic "\x93NUMPY", a major and minor version byte, the header
// length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), a header
// that is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (64, 160), }
// and then the elements in C (row-major) order.
//
// Accepted element types: little-endian float32, float64, int32, int64 and
// the one-byte uint8 and int8. Everything else is refused with a message
// that says why: Fortran order, big-endian data, object (pickled) and
// structured dtypes, a header that is not a well-formed dict, absurd header
// lengths or ranks, shapes whose size overflows, data shorter or longer
// than the shape says. Like the other readers, declared sizes are checked
// against the real file size before any memory is allocated for them.
#ifndef KILN_TOOLCHAIN_DATA_NPY_READER_H_
#define KILN_TOOLCHAIN_DATA_NPY_READER_H_

#include <stdint.h>

#include <string>
#include <string_view>
#include <vector>

namespace kiln {
namespace data {

// The largest element payload accepted (4 GiB), and the largest header
// (numpy itself refuses headers over 10000 bytes by default; 1 MiB leaves
// room for any header numpy can write for the accepted types).
constexpr uint64_t kMaxNpyDataBytes = uint64_t{1} << 32;
constexpr uint32_t kMaxNpyHeaderBytes = uint32_t{1} << 20;
constexpr int kMaxNpyRank = 32;  // numpy's own limit (NPY_MAXDIMS)

enum class NpyDType { kFloat32, kFloat64, kUint8, kInt8, kInt32, kInt64 };

// "float32", "float64", "uint8", "int8", "int32", "int64".
const char* NpyDTypeName(NpyDType dtype);

struct NpyArray {
  NpyDType dtype = NpyDType::kFloat32;
  // Dimensions in C order; empty for a 0-d array (which has one element).
  std::vector<int64_t> shape;
  // Every element converted to float, in C order. Float data must be
  // finite (a NaN or infinity, or a float64 beyond float32's range, is an
  // error: these arrays feed calibration). Integers above 2^24 in
  // magnitude lose precision here: read `integers` for exact values.
  std::vector<float> values;
  // The elements exactly as stored, for integer dtypes (labels, indices);
  // empty for float dtypes.
  std::vector<int64_t> integers;
  // The raw bytes when dtype is kUint8 (images), else empty.
  std::vector<uint8_t> raw_uint8;

  int64_t ElementCount() const;  // product of shape (1 for 0-d)
  // "[64, 160] float32"
  std::string Describe() const;
};

// Reads the .npy file `path`. On failure *out is reset and *error names the
// file and what is wrong ("x.npy: data is big-endian ('>f4'); ...").
bool ReadNpy(const std::string& path, NpyArray* out, std::string* error);

// The same for the bytes of a .npy file already in memory; `name` prefixes
// the error messages.
bool ParseNpy(std::string_view bytes, const std::string& name, NpyArray* out,
              std::string* error);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_NPY_READER_H_
