// Opening a dataset from a one-string spec (the --data argument of the
// toolchain commands), and describing one.
//
//   fashion-mnist[:DIR]                        IDX files; default DIR is
//                                              /usr/share/datasets/fashion-mnist
//   digits[:PATH]                              scikit-learn digits CSV;
//                                              default: the vendored copy
//   images:DIR[:HxWxC][:resize=nearest|bilinear]
//                                              DIR/<class>/*.png|jpg|jpeg|bmp
//   csv:PATH:label=COLUMN                      tabular classification
//   csv:PATH:target=COLUMN[,COLUMN...]         tabular regression
//
// Paths may contain ':'; the options are recognised at the end of the spec.
#ifndef KILN_TOOLCHAIN_DATA_SOURCES_H_
#define KILN_TOOLCHAIN_DATA_SOURCES_H_

#include <string>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace data {

// Loads the dataset `spec` names. An unknown or malformed spec is an error
// listing the accepted forms. The result has passed CheckDataset. On
// failure *out is cleared.
bool OpenDataset(const std::string& spec, Dataset* out, std::string* error);

// The accepted spec forms, one per line, for usage messages.
std::string DatasetSpecHelp();

// Checks the invariants dataset.h states (sizes of every per-sample vector,
// label range, shape). Loaders satisfy them; this guards what others build.
bool CheckDataset(const Dataset& dataset, std::string* error);

// A human-readable summary: sample count, task, item shape and type, source
// splits, and the count of each class (or the target dimension). Ends with
// a newline.
std::string DescribeDataset(const Dataset& dataset);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_SOURCES_H_
