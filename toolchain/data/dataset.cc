#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

const char* SplitName(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kValid:
      return "valid";
    case Split::kTest:
      return "test";
    case Split::kNone:
      break;
  }
  return "none";
}

const uint8_t* Dataset::item_bytes(size_t i) const {
  const size_t offset = i * item_byte_size();
  if (feature_type == FeatureType::kUint8) return u8.data() + offset;
  return reinterpret_cast<const uint8_t*>(f32.data()) + offset;
}

size_t Dataset::item_byte_size() const {
  const size_t element_size =
      feature_type == FeatureType::kUint8 ? sizeof(uint8_t) : sizeof(float);
  return item_elements() * element_size;
}

}  // namespace data
}  // namespace kiln
