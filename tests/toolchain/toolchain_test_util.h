// Helpers for the toolchain tests: finishing a builder, looking things up by
// name and decoding constant buffers.
#ifndef KILN_TESTS_TOOLCHAIN_TOOLCHAIN_TEST_UTIL_H_
#define KILN_TESTS_TOOLCHAIN_TOOLCHAIN_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <string.h>

#include <string>
#include <vector>

#include "toolchain/model_builder.h"
#include "toolchain/model_def.h"

namespace kiln {
namespace testing {

inline ModelDef FinishOrFail(const ModelBuilder& b) {
  ModelDef def;
  std::string error;
  EXPECT_TRUE(b.Finish(&def, &error)) << error;
  return def;
}

inline std::vector<uint8_t> BuildOrFail(const ModelBuilder& b) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Build(&bytes, &error)) << error;
  return bytes;
}

inline const TensorDef& TensorNamed(const ModelDef& def,
                                    const std::string& name) {
  for (const TensorDef& t : def.tensors) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  static const TensorDef kMissing;
  return kMissing;
}

inline uint32_t TensorIndex(const ModelDef& def, const std::string& name) {
  for (size_t i = 0; i < def.tensors.size(); ++i) {
    if (def.tensors[i].name == name) return static_cast<uint32_t>(i);
  }
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

inline const OperatorDef& OpNamed(const ModelDef& def,
                                  const std::string& name) {
  for (const OperatorDef& op : def.operators) {
    if (op.name == name) return op;
  }
  ADD_FAILURE() << "no operator " << name;
  static const OperatorDef kMissing;
  return kMissing;
}

inline std::vector<int8_t> Int8Data(const ModelDef& def, const TensorDef& t) {
  const std::vector<uint8_t>& d = def.buffers.at(t.buffer).data;
  return std::vector<int8_t>(d.begin(), d.end());
}

inline std::vector<int32_t> Int32Data(const ModelDef& def, const TensorDef& t) {
  const std::vector<uint8_t>& d = def.buffers.at(t.buffer).data;
  std::vector<int32_t> out(d.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<int32_t>(
        uint32_t(d[4 * i]) | uint32_t(d[4 * i + 1]) << 8 |
        uint32_t(d[4 * i + 2]) << 16 | uint32_t(d[4 * i + 3]) << 24);
  }
  return out;
}

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_TOOLCHAIN_TOOLCHAIN_TEST_UTIL_H_
