// Structured one-operator models (fuzz/op_model_gen.h) -> ModelBuilder ->
// kiln_arena_size -> kiln_init -> kiln_invoke. The builder may refuse a
// combination of shapes and quantization (return), but must not crash; a
// model it accepts must load and run with KILN_OK and well-formed
// decisions (abort otherwise: a runtime or builder bug). The kernel path is
// the runtime's choice; set KILN_ISA to fuzz another. KILN_FUZZ_VERBOSE=1
// prints each generated model and the builder's verdict (for corpus work
// and for reading a crash).
// Seeds: fuzz/corpus/kiln_fuzz_op_model (one per operator kind).
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <string>

#include "fuzz/op_model_gen.h"
#include "fuzz/op_model_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln_fuzz;
  FuzzInput in(data, size);
  OpModel m;
  std::string why;
  const bool ok = GenerateOpModel(&in, &m, &why);
  static const bool verbose = getenv("KILN_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    fprintf(stderr, "%s: %s\n", m.description.c_str(),
            ok ? "built" : why.c_str());
  }
  if (!ok) return 0;
  const kiln::AlignedBytes model(m.bytes);
  const std::unique_ptr<Context> c = InitOrDie(model, m, nullptr);
  InvokeOrDie({c.get()}, m, MakeInputs(*c, m, &in));
  return 0;
}
