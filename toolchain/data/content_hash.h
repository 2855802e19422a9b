// Content hashes: the identity of a sample (the key of the split manifest)
// and of a whole dataset (the model metadata's training_data_hash).
//
// A sample's content hash is SHA-256 over its feature type, its item shape
// and its raw feature bytes (uint8 pixels, or float32 values in the host's
// byte order, which is little-endian on every platform Kiln supports). The
// label is deliberately not part of it: the same image under two labels is
// the same sample, and must land in one split, or the model would be tested
// on an image it was trained on. The shape is: the same bytes as 28x28x1
// and as 784 features are different samples.
//
// The dataset hash is SHA-256 over the task, the class names, the target
// width and, for every sample in order, its content hash and its label
// (classification) or targets (regression). Reordering, relabelling or
// renaming classes changes it.
//
// All hashes are 64 lowercase hex digits.
#ifndef KILN_TOOLCHAIN_DATA_CONTENT_HASH_H_
#define KILN_TOOLCHAIN_DATA_CONTENT_HASH_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

// SHA-256 of `size` bytes, as 64 lowercase hex digits.
std::string Sha256Hex(const void* bytes, size_t size);

// True if `text` is 64 lowercase hex digits.
bool IsSha256Hex(const std::string& text);

// Checks that the dataset's arrays agree with each other: the feature
// storage holds size() * item_elements() values of feature_type, the shape
// has no negative dimension, and labels / targets / source_splits (when not
// empty) have one entry per sample. The hash functions below assume this.
bool CheckDatasetShape(const Dataset& dataset, std::string* error);

// The content hash of sample `index` (< dataset.size()).
std::string ContentHash(const Dataset& dataset, size_t index);

// The content hashes of all samples, in order. False (and *error) if the
// dataset fails CheckDatasetShape.
bool ContentHashes(const Dataset& dataset, std::vector<std::string>* hashes,
                   std::string* error);

// The dataset hash. Empty if the dataset fails CheckDatasetShape.
std::string DatasetHash(const Dataset& dataset);
// The same, from ContentHashes(dataset) already computed.
std::string DatasetHash(const Dataset& dataset,
                        const std::vector<std::string>& content_hashes);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_CONTENT_HASH_H_
