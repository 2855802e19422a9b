#include "toolchain/train/training_data.h"

#include <stdio.h>

#include "toolchain/data/relabels.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace train {

bool OpenTrainingDataset(const TrainParams& params, data::Dataset* dataset,
                         bool quiet, std::string* error) {
  if (!data::OpenDataset(params.dataset, dataset, error)) return false;
  if (params.relabels.empty()) return true;
  data::RelabelStats stats;
  if (!data::ApplyRelabels(params.relabels, dataset, &stats, error)) {
    return false;
  }
  if (!quiet) {
    fprintf(stderr,
            "[data] %s: %zu fixes, %zu samples relabelled, %zu hashes not in "
            "the dataset\n",
            params.relabels.c_str(), stats.fixes, stats.changed_samples,
            stats.unknown_hashes);
  }
  return true;
}

}  // namespace train
}  // namespace kiln
