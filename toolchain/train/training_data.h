// The dataset a params file trains on: OpenDataset(params.dataset) with the
// label fixes of params.relabels applied (keyed by content hash, so every
// sample keeps its split). Shared by `kiln build` and `kiln search`.
#ifndef KILN_TOOLCHAIN_TRAIN_TRAINING_DATA_H_
#define KILN_TOOLCHAIN_TRAIN_TRAINING_DATA_H_

#include <string>

#include "toolchain/data/dataset.h"
#include "toolchain/train/params.h"

namespace kiln {
namespace train {

// Reports the relabel counts on stderr unless quiet (a fix whose hash no
// sample has is a warning, not an error).
bool OpenTrainingDataset(const TrainParams& params, data::Dataset* dataset,
                         bool quiet, std::string* error);

}  // namespace train
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_TRAIN_TRAINING_DATA_H_
