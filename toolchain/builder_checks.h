// Argument checks shared by the ModelBuilder sources. They throw
// std::invalid_argument, which ModelBuilder turns into its sticky error.
#ifndef KILN_TOOLCHAIN_BUILDER_CHECKS_H_
#define KILN_TOOLCHAIN_BUILDER_CHECKS_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/model_builder.h"

namespace kiln {
namespace builder_internal {

// printf into a std::string.
std::string Fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A per-item activation shape: rank 1..KILN_MAX_RANK, every dim >= 1.
void CheckShape(const std::vector<int32_t>& shape, const std::string& name);

// Scale a positive normal float; zero point within the dtype (INT8/UINT8).
void CheckQuant(QuantParams q, DType dtype, const char* role);

// The per-tensor quantization of an INT8/UINT8 activation.
QuantParams QuantOf(const TensorDef& t);
QuantizationDef PerTensor(QuantParams q);

// MAJOR.MINOR.PATCH[-pre.release][+build.meta] as semver.org defines it.
bool IsSemanticVersion(const std::string& version);

// Product of the dims (shapes are checked, so it fits easily in int64).
int64_t ElementCount(const std::vector<int32_t>& shape);

}  // namespace builder_internal
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BUILDER_CHECKS_H_
