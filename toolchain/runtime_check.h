// The toolchain's view of the runtime's verdict on a model.
#ifndef KILN_TOOLCHAIN_RUNTIME_CHECK_H_
#define KILN_TOOLCHAIN_RUNTIME_CHECK_H_

#include <stddef.h>

#include <string>

#include "toolchain/aligned_bytes.h"

namespace kiln {

// The runtime's full verification: kiln_arena_size for one item, then
// kiln_init in an arena of that size. (kiln_arena_size alone only checks the
// structure and the plan's sizes; the semantic checks run in kiln_init.) On
// rejection returns false with "<status name>: <message>" in *error.
bool RuntimeVerify(const AlignedBytes& model, std::string* error);

// kiln_arena_size(model, batch). Same error format.
bool RuntimeArenaSize(const AlignedBytes& model, size_t batch,
                      size_t* arena_bytes, std::string* error);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_RUNTIME_CHECK_H_
