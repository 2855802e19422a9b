// Structured one-operator models for the fuzz targets kiln_fuzz_op_model and
// kiln_fuzz_differential: fuzz bytes choose an operator the model builder
// offers, its shapes, options and quantization (scales over a wide log
// range including extreme ones, every zero point, arbitrary weights), and
// the builder (toolchain/model_builder.h) compiles the model. The builder
// may refuse a combination; what it accepts must then run in the runtime.
#ifndef KILN_FUZZ_OP_MODEL_GEN_H_
#define KILN_FUZZ_OP_MODEL_GEN_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"

namespace kiln_fuzz {

struct OpModel {
  std::vector<uint8_t> bytes;  // the serialized model
  std::string description;     // what was generated, for crash reports
  size_t batch = 1;            // items per internal step (arena size)
  size_t items = 1;            // items per invoke (> batch forces chunks)
};

// Decodes one model from `in` and builds it. False (with the builder's
// message in *why) when the builder refuses.
bool GenerateOpModel(FuzzInput* in, OpModel* out, std::string* why);

}  // namespace kiln_fuzz

#endif  // KILN_FUZZ_OP_MODEL_GEN_H_
