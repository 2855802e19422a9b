// ModelDef <-> bytes.
#ifndef KILN_TOOLCHAIN_SERIALIZE_H_
#define KILN_TOOLCHAIN_SERIALIZE_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/model_def.h"

namespace kiln {

// Writes exactly what `model` says, valid or not, as a FlatBuffer with file
// identifier "KILN". Constant buffers are 16-byte aligned relative to the
// start of the bytes (the runtime reads int32 data in place, so the caller
// must keep the bytes themselves 16-byte aligned, as malloc does). Absent
// optional tables stay absent; vectors and strings are always written, even
// when empty. Deterministic: the same def gives the same bytes.
std::vector<uint8_t> SerializeModel(const ModelDef& model);

// Reads a whole file. On failure returns false and says why in *error.
bool ReadFileBytes(const std::string& path, std::vector<uint8_t>* bytes,
                   std::string* error);
// The same, refusing files larger than max_bytes before reading them.
bool ReadFileBytes(const std::string& path, uint64_t max_bytes,
                   std::vector<uint8_t>* bytes, std::string* error);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_SERIALIZE_H_
