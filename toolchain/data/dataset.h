// A labelled dataset in memory, as every data source produces it and the
// splitter, trainer and evaluator consume it. Images keep their raw uint8
// pixels (Fashion-MNIST is 55 MB that way, 220 MB as float); tabular data is
// float32. Each sample remembers where it came from, for error messages and
// for the review contact sheet.
#ifndef KILN_TOOLCHAIN_DATA_DATASET_H_
#define KILN_TOOLCHAIN_DATA_DATASET_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace kiln {
namespace data {

enum class FeatureType { kUint8, kFloat32 };
enum class Task { kClassification, kRegression };

// Which split a sample belongs to. kNone: not assigned (yet).
enum class Split : int8_t { kNone = -1, kTrain = 0, kValid = 1, kTest = 2 };
const char* SplitName(Split split);  // "train", "valid", "test", "none"

struct Dataset {
  std::string name;  // e.g. "fashion-mnist", "digits", a folder or file name
  Task task = Task::kClassification;

  // Per-sample feature shape: {H, W, C} for images (HWC, C = 1 or 3), {D}
  // for feature vectors. Every sample has exactly this shape.
  std::vector<int32_t> item_shape;
  FeatureType feature_type = FeatureType::kUint8;
  std::vector<uint8_t> u8;  // kUint8: size() * item_elements() values
  std::vector<float> f32;   // kFloat32: size() * item_elements() values

  // Classification: class id per sample in [0, class_names.size()).
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;
  // Regression: target_dim values per sample.
  int32_t target_dim = 0;
  std::vector<float> targets;

  // Where each sample came from: "path:line" (CSV), "path#index" (IDX),
  // or the image file's path.
  std::vector<std::string> origins;
  // The split the source itself prescribes (Fashion-MNIST's official test
  // files), or kNone. The splitter may honour it (see split_manifest.h).
  std::vector<Split> source_splits;

  size_t size() const { return origins.size(); }
  size_t item_elements() const {
    size_t n = 1;
    for (int32_t d : item_shape) n *= static_cast<size_t>(d);
    return n;
  }
  // The raw feature bytes of sample i (uint8 pixels or float32 values), the
  // input of its content hash.
  const uint8_t* item_bytes(size_t i) const;
  size_t item_byte_size() const;
};

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_DATASET_H_
