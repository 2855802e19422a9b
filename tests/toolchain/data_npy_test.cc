// .npy files: every accepted dtype and format version, built by hand and
// (when Debian's python3 has numpy) written by numpy itself; every kind of
// damage or unsupported content refused with a message, never a crash.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/npy_reader.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;

// A .npy file: magic, version, header length, `header` padded with spaces
// and a newline so the data starts on a 64-byte boundary (as numpy does),
// then `data` as is.
std::string NpyBytes(const std::string& header, const std::string& data,
                     int major = 1) {
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t preamble = 8 + length_bytes;
  std::string text = header;
  while ((preamble + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  std::string out = std::string("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < length_bytes; ++i) {
    out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  }
  return out + text + data;
}

std::string Header(const std::string& descr, const std::string& shape,
                   const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran +
         ", 'shape': " + shape + ", }";
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) memcpy(&out[0], values.data(), out.size());
  return out;
}

// Parses `bytes`, expecting failure with a message containing `fragment`.
void ExpectRejected(const std::string& bytes, const std::string& fragment) {
  NpyArray array;
  array.values = {1.0f};  // must be cleared on failure
  std::string error;
  EXPECT_FALSE(ParseNpy(bytes, "bad.npy", &array, &error));
  EXPECT_NE(error.find("bad.npy: "), std::string::npos) << error;
  EXPECT_NE(error.find(fragment), std::string::npos)
      << "error '" << error << "' lacks '" << fragment << "'";
  EXPECT_TRUE(array.values.empty());
  EXPECT_TRUE(array.shape.empty());
}

TEST(NpyReader, ReadsFloat32InCOrder) {
  std::vector<float> values;
  for (int i = 0; i < 6; ++i) values.push_back(0.5f * i - 1.0f);
  NpyArray array;
  std::string error;
  ASSERT_TRUE(ParseNpy(NpyBytes(Header("<f4", "(2, 3)"), Bytes(values)), "a",
                       &array, &error))
      << error;
  EXPECT_EQ(array.dtype, NpyDType::kFloat32);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array.values, values);
  EXPECT_TRUE(array.integers.empty());
  EXPECT_TRUE(array.raw_uint8.empty());
  EXPECT_EQ(array.ElementCount(), 6);
  EXPECT_EQ(array.Describe(), "[2, 3] float32");
}

TEST(NpyReader, ReadsEveryIntegerDtypeExactly) {
  NpyArray array;
  std::string error;
  ASSERT_TRUE(ParseNpy(
      NpyBytes(Header("|u1", "(4,)"), std::string("\x00\x07\x80\xff", 4)), "u8",
      &array, &error))
      << error;
  EXPECT_EQ(array.dtype, NpyDType::kUint8);
  EXPECT_EQ(array.raw_uint8, (std::vector<uint8_t>{0, 7, 128, 255}));
  EXPECT_EQ(array.integers, (std::vector<int64_t>{0, 7, 128, 255}));
  EXPECT_EQ(array.values, (std::vector<float>{0, 7, 128, 255}));

  ASSERT_TRUE(
      ParseNpy(NpyBytes(Header("|i1", "(3,)"), std::string("\x80\xff\x05", 3)),
               "i8", &array, &error))
      << error;
  EXPECT_EQ(array.dtype, NpyDType::kInt8);
  EXPECT_EQ(array.integers, (std::vector<int64_t>{-128, -1, 5}));
  EXPECT_TRUE(array.raw_uint8.empty());

  const std::vector<int32_t> i32 = {-2147483647 - 1, 0, 123456789};
  ASSERT_TRUE(ParseNpy(NpyBytes(Header("<i4", "(3,)"), Bytes(i32)), "i32",
                       &array, &error))
      << error;
  EXPECT_EQ(array.integers, (std::vector<int64_t>{i32[0], i32[1], i32[2]}));

  // Beyond 2^24 the float copy rounds; `integers` keeps the exact value.
  const std::vector<int64_t> i64 = {(int64_t{1} << 40) + 1, -3};
  ASSERT_TRUE(ParseNpy(NpyBytes(Header("<i8", "(2, 1)"), Bytes(i64)), "i64",
                       &array, &error))
      << error;
  EXPECT_EQ(array.dtype, NpyDType::kInt64);
  EXPECT_EQ(array.integers, i64);
  EXPECT_EQ(array.values[1], -3.0f);
}

TEST(NpyReader, ReadsFloat64AsFloat) {
  const std::vector<double> values = {0.1, -2.5e10, 1e-300};
  NpyArray array;
  std::string error;
  ASSERT_TRUE(ParseNpy(NpyBytes(Header("<f8", "(3,)"), Bytes(values)), "f64",
                       &array, &error))
      << error;
  EXPECT_EQ(array.dtype, NpyDType::kFloat64);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(array.values[i], static_cast<float>(values[i]));
  }
}

TEST(NpyReader, AcceptsVersions2And3AndHeaderVariants) {
  const std::vector<float> values = {1, 2, 3, 4};
  for (int major : {2, 3}) {
    NpyArray array;
    std::string error;
    ASSERT_TRUE(
        ParseNpy(NpyBytes(Header("<f4", "(2, 2)"), Bytes(values), major), "v",
                 &array, &error))
        << major << ": " << error;
    EXPECT_EQ(array.values, values);
  }
  // Double quotes, no trailing commas, keys in another order, no spaces.
  NpyArray array;
  std::string error;
  ASSERT_TRUE(ParseNpy(NpyBytes("{\"shape\":(4,),\"fortran_order\":False,"
                                "\"descr\":\"<f4\"}",
                                Bytes(values)),
                       "q", &array, &error))
      << error;
  EXPECT_EQ(array.shape, (std::vector<int64_t>{4}));
}

TEST(NpyReader, ZeroDimensionalAndEmptyArrays) {
  NpyArray array;
  std::string error;
  ASSERT_TRUE(
      ParseNpy(NpyBytes(Header("<f4", "()"), Bytes(std::vector<float>{7})),
               "scalar", &array, &error))
      << error;
  EXPECT_TRUE(array.shape.empty());
  EXPECT_EQ(array.ElementCount(), 1);
  EXPECT_EQ(array.values, (std::vector<float>{7}));

  ASSERT_TRUE(ParseNpy(NpyBytes(Header("<f4", "(0, 160)"), ""), "empty", &array,
                       &error))
      << error;
  EXPECT_EQ(array.shape, (std::vector<int64_t>{0, 160}));
  EXPECT_TRUE(array.values.empty());
}

TEST(NpyReader, RejectsDamagedPreambles) {
  const std::string good =
      NpyBytes(Header("<f4", "(1,)"), std::string(4, '\0'));
  ExpectRejected("", "not a .npy file");
  ExpectRejected("\x93NUMP", "not a .npy file");
  ExpectRejected("PK\x03\x04 a zip file, e.g. .npz", "not a .npy file");
  std::string v4 = good;
  v4[6] = 4;
  ExpectRejected(v4, "version 4.0");
  std::string minor = good;
  minor[7] = 1;
  ExpectRejected(minor, "version 1.1");
  ExpectRejected(good.substr(0, 9), "inside the header length");
  ExpectRejected(good.substr(0, 30), "truncated header");
  // A version 2 header length of 2^31.
  std::string absurd =
      std::string("\x93NUMPY\x02\x00", 8) + std::string("\x00\x00\x00\x80", 4);
  ExpectRejected(absurd + std::string(100, ' '),
                 "header length 2147483648 is absurd");
}

TEST(NpyReader, RejectsDataOfTheWrongSize) {
  const std::vector<float> six(6, 1.0f);
  ExpectRejected(
      NpyBytes(Header("<f4", "(2, 3)"), Bytes(six).substr(0, 23)),
      "truncated: the shape needs 24 bytes of data, the file has 23");
  ExpectRejected(NpyBytes(Header("<f4", "(2, 3)"), Bytes(six) + "xy"),
                 "2 unexpected bytes after the data");
  // Sizes that overflow 64 bits, or exceed the 4 GiB limit, are refused
  // before anything is allocated.
  ExpectRejected(NpyBytes(Header("<f8", "(4294967296, 4294967296)"), ""),
                 "too large");
  ExpectRejected(NpyBytes(Header("<f4", "(99999999999999999999,)"), ""),
                 "too large");
  ExpectRejected(NpyBytes(Header("<f4", "(1073741825,)"), ""), "too large");
  std::string rank33 = "(";
  for (int i = 0; i < 33; ++i) rank33 += "1,";
  ExpectRejected(
      NpyBytes(Header("<f4", rank33 + ")"), Bytes(std::vector<float>{1})),
      "more than 32 dimensions");
}

TEST(NpyReader, RejectsUnsupportedLayoutsAndDtypes) {
  const std::string four(16, '\0');
  ExpectRejected(NpyBytes(Header("<f4", "(2, 2)", "True"), four), "Fortran");
  ExpectRejected(NpyBytes(Header(">f4", "(4,)"), four), "big-endian ('>f4')");
  ExpectRejected(NpyBytes(Header(">i8", "(2,)"), four), "big-endian");
  ExpectRejected(NpyBytes(Header("|O", "(2,)"), four), "object arrays");
  ExpectRejected(NpyBytes(Header("<f2", "(8,)"), four),
                 "unsupported dtype '<f2'");
  ExpectRejected(NpyBytes(Header("<c8", "(2,)"), four), "unsupported dtype");
  ExpectRejected(NpyBytes(Header("<U1", "(4,)"), four), "unsupported dtype");
  ExpectRejected(NpyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, "
                          "'shape': (4,), }",
                          four),
                 "structured dtypes");
}

TEST(NpyReader, RejectsMalformedHeaders) {
  const std::string four(16, '\0');
  ExpectRejected(NpyBytes("{'descr': '<f4', 'shape': (4,), }", four),
                 "lacks 'fortran_order'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': False, }", four),
                 "lacks 'shape'");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': "
                          "False, 'shape': (4,), }",
                          four),
                 "appears twice");
  ExpectRejected(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                          "(4,), 'extra': 1, }",
                          four),
                 "unexpected header key 'extra'");
  ExpectRejected(NpyBytes(Header("<f4", "(-4,)"), four),
                 "non-negative integers");
  ExpectRejected(NpyBytes(Header("<f4", "[4]"), four), "expected '('");
  ExpectRejected(NpyBytes(Header("<f4", "(4,)", "maybe"), four),
                 "must be True or False");
  ExpectRejected(NpyBytes("{'descr': '<f4", four), "unterminated string");
  ExpectRejected(NpyBytes("not a dict", four), "expected '{'");
  ExpectRejected(NpyBytes(Header("<f4", "(4,)") + " junk", four),
                 "text after the header dict");
}

TEST(NpyReader, RejectsNonFiniteFloats) {
  const float inf = std::numeric_limits<float>::infinity();
  ExpectRejected(NpyBytes(Header("<f4", "(3,)"),
                          Bytes(std::vector<float>{1, std::nanf(""), 2})),
                 "element 1 is NaN");
  ExpectRejected(
      NpyBytes(Header("<f4", "(2,)"), Bytes(std::vector<float>{-inf, 2})),
      "element 0 is infinite");
  ExpectRejected(
      NpyBytes(Header("<f8", "(2,)"), Bytes(std::vector<double>{0, 1e300})),
      "element 1 (");
}

TEST(NpyReader, ReadsFilesAndRejectsBadOnesFromDisk) {
  ScratchDir dir;
  const std::vector<float> values = {3, 1, 4, 1, 5, 9};
  WriteBytes(dir.Path("good.npy"),
             NpyBytes(Header("<f4", "(3, 2)"), Bytes(values)));
  NpyArray array;
  std::string error;
  ASSERT_TRUE(ReadNpy(dir.Path("good.npy"), &array, &error)) << error;
  EXPECT_EQ(array.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(array.values, values);

  // The same checks as in memory, on the streaming path.
  WriteBytes(dir.Path("short.npy"),
             NpyBytes(Header("<f4", "(3, 2)"), Bytes(values).substr(0, 20)));
  EXPECT_FALSE(ReadNpy(dir.Path("short.npy"), &array, &error));
  EXPECT_NE(error.find("short.npy: truncated"), std::string::npos) << error;
  EXPECT_TRUE(array.values.empty());

  WriteBytes(dir.Path("huge.npy"),
             NpyBytes(Header("<f4", "(1000000000,)"), ""));
  EXPECT_FALSE(ReadNpy(dir.Path("huge.npy"), &array, &error));
  EXPECT_NE(error.find("truncated: the shape needs 4000000000 bytes"),
            std::string::npos)
      << error;

  WriteBytes(dir.Path("tiny.npy"), "\x93NUMPY\x01");
  EXPECT_FALSE(ReadNpy(dir.Path("tiny.npy"), &array, &error));
  EXPECT_NE(error.find("not a .npy file"), std::string::npos) << error;

  std::string cut =
      NpyBytes(Header("<f4", "(3, 2)"), Bytes(values)).substr(0, 40);
  WriteBytes(dir.Path("cut_header.npy"), cut);
  EXPECT_FALSE(ReadNpy(dir.Path("cut_header.npy"), &array, &error));
  EXPECT_NE(error.find("truncated header"), std::string::npos) << error;

  EXPECT_FALSE(ReadNpy(dir.Path("missing.npy"), &array, &error));
  EXPECT_NE(error.find("missing.npy: cannot open"), std::string::npos) << error;
  EXPECT_FALSE(ReadNpy(dir.path(), &array, &error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

// Files written by numpy itself (skipped when Debian's python3 or its
// numpy is missing): every supported dtype and version must come back with
// the values numpy wrote, and what numpy can write but Kiln refuses
// (Fortran order, big-endian, objects) must be refused.
TEST(NpyReader, ReadsWhatNumpyWrites) {
  ScratchDir dir;
  const std::string script = dir.Path("write.py");
  WriteBytes(script,
             "import sys\n"
             "import numpy as np\n"
             "from numpy.lib import format as fmt\n"
             "d = sys.argv[1]\n"
             "a = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 7) / 4\n"
             "for t in ['float32', 'float64', 'int32', 'int64', 'int8']:\n"
             "    np.save(f'{d}/{t}.npy', a.astype(t))\n"
             "np.save(f'{d}/uint8.npy', (np.arange(24) * 11 % "
             "256).astype(np.uint8).reshape(2, 3, 4))\n"
             "for v in [(2, 0), (3, 0)]:\n"
             "    with open(f'{d}/v{v[0]}.npy', 'wb') as f:\n"
             "        fmt.write_array(f, a.astype(np.float32), version=v)\n"
             "np.save(f'{d}/scalar.npy', np.float32(2.5))\n"
             "np.save(f'{d}/fortran.npy', np.asfortranarray(a))\n"
             "np.save(f'{d}/big.npy', a.astype('>f4'))\n"
             "np.save(f'{d}/object.npy', np.array([1, 'x'], dtype=object), "
             "allow_pickle=True)\n");
  const std::string command =
      "/usr/bin/python3 -c 'import numpy' 2>/dev/null && "
      "/usr/bin/python3 " +
      script + " " + dir.path();
  if (system(command.c_str()) != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  }
  std::vector<float> expected;
  for (int i = 0; i < 24; ++i) expected.push_back((i - 7) / 4.0f);
  NpyArray array;
  std::string error;
  for (const char* name : {"float32", "float64", "v2", "v3"}) {
    ASSERT_TRUE(ReadNpy(dir.Path(std::string(name) + ".npy"), &array, &error))
        << error;
    EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3, 4})) << name;
    EXPECT_EQ(array.values, expected) << name;
  }
  for (const char* name : {"int32", "int64", "int8"}) {
    ASSERT_TRUE(ReadNpy(dir.Path(std::string(name) + ".npy"), &array, &error))
        << error;
    ASSERT_EQ(array.integers.size(), 24u) << name;
    for (int i = 0; i < 24; ++i) {
      // numpy's astype truncates toward zero
      EXPECT_EQ(array.integers[i], static_cast<int64_t>((i - 7) / 4.0)) << name;
    }
  }
  ASSERT_TRUE(ReadNpy(dir.Path("uint8.npy"), &array, &error)) << error;
  EXPECT_EQ(array.dtype, NpyDType::kUint8);
  ASSERT_EQ(array.raw_uint8.size(), 24u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(array.raw_uint8[i], i * 11 % 256);
  ASSERT_TRUE(ReadNpy(dir.Path("scalar.npy"), &array, &error)) << error;
  EXPECT_TRUE(array.shape.empty());
  EXPECT_EQ(array.values, (std::vector<float>{2.5f}));

  EXPECT_FALSE(ReadNpy(dir.Path("fortran.npy"), &array, &error));
  EXPECT_NE(error.find("Fortran"), std::string::npos) << error;
  EXPECT_FALSE(ReadNpy(dir.Path("big.npy"), &array, &error));
  EXPECT_NE(error.find("big-endian"), std::string::npos) << error;
  EXPECT_FALSE(ReadNpy(dir.Path("object.npy"), &array, &error));
  EXPECT_NE(error.find("object arrays"), std::string::npos) << error;
}

}  // namespace
}  // namespace data
}  // namespace kiln
