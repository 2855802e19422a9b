// Bytes -> ModelDef, for tools that look at or rewrite an existing model.
#ifndef KILN_TOOLCHAIN_MODEL_READER_H_
#define KILN_TOOLCHAIN_MODEL_READER_H_

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "toolchain/model_def.h"

namespace kiln {

// Runs the FlatBuffers verifier (kiln::fb::VerifyModelBuffer) over the bytes
// and, if they pass, converts them into *model. Only the structure is
// checked, not the semantics (that is the runtime's verifier, reached through
// kiln_arena_size / kiln_init). `data` should be 16-byte aligned, as the
// runtime requires: the verifier rejects misaligned scalars. Absent vectors
// read as empty ones.
bool ParseModel(const uint8_t* data, size_t size, ModelDef* model,
                std::string* error);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_MODEL_READER_H_
