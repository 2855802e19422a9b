// The runtime's side of a model's Preprocess table: reading it into a
// kiln_preprocess_spec, shared by kiln_init's verification
// (verify_preprocess.cc) and kiln_get_preprocess_spec (preprocess.cc). The
// checks themselves are kiln_check_preprocess_spec (kiln.h), so a model's
// spec and a spec a caller fills by hand pass the same test.
#ifndef KILN_RUNTIME_SRC_PREPROCESS_H_
#define KILN_RUNTIME_SRC_PREPROCESS_H_

#include "kiln/kiln.h"
#include "runtime/src/internal.h"

namespace kiln {
namespace rt {

// Fills *spec from the model's Preprocess table and graph input 0, whose
// tensor ctx->tensors already holds decoded. False (and *spec untouched)
// when the model has no Preprocess table. Nothing is checked here.
bool ReadPreprocessSpec(const kiln_context* ctx, kiln_preprocess_spec* spec);

// Part of VerifyAndDecode, after the tensors and graph inputs are decoded:
// a model without Preprocess passes; one with it must pass
// kiln_check_preprocess_spec (KILN_ERR_PREPROCESS).
kiln_status VerifyPreprocess(const kiln_context* ctx, kiln_error* err);

}  // namespace rt
}  // namespace kiln

#endif  // KILN_RUNTIME_SRC_PREPROCESS_H_
