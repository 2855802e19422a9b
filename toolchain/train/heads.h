// The heads a params file declares, resolved against a dataset's classes:
// each head's labels and the map from dataset class id to head class id.
// Shared by the trainer (targets) and by evaluation of a compiled model
// (the true label of every sample for every head). No LibTorch.
#ifndef KILN_TOOLCHAIN_TRAIN_HEADS_H_
#define KILN_TOOLCHAIN_TRAIN_HEADS_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/data/dataset.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace train {

struct HeadInfo {
  std::string name;
  std::vector<std::string> labels;
  std::vector<int32_t> class_of;  // dataset class -> head class
};

// A plain classifier has one head named after the dataset with the
// dataset's classes; a multitask model has params.model.heads, each either
// the identity or a "map" of head labels to dataset class names ("*": all
// the classes not listed). False and *error on an unknown or twice-mapped
// class, or an unmapped class without "*".
bool ResolveHeads(const TrainParams& params, const data::Dataset& dataset,
                  std::vector<HeadInfo>* heads, std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_HEADS_H_
