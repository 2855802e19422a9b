// Running a one-op model (fuzz/op_model_gen.h) through the runtime for the
// fuzz targets: a context on a chosen kernel path, fuzz-filled inputs, and
// the outputs and decisions of one kiln_invoke (or kiln_invoke_parallel).
// A model the builder accepted must load and run: anything else aborts
// with a message naming the model, since that is a runtime bug.
#ifndef KILN_FUZZ_OP_MODEL_RUN_H_
#define KILN_FUZZ_OP_MODEL_RUN_H_

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "fuzz/op_model_gen.h"
#include "kiln/kiln.h"
#include "toolchain/aligned_bytes.h"

namespace kiln_fuzz {

// What one run produced: per graph output its items' bytes, and the
// decisions (items x heads).
struct RunResult {
  std::vector<std::vector<uint8_t>> outputs;
  std::vector<kiln_decision> decisions;
};

// A context with its arena (the model must outlive it).
struct Context {
  std::vector<uint8_t> arena;
  kiln_context* ctx = nullptr;
};

// kiln_init of `model` (16-byte aligned copy of m.bytes) for m.batch items
// per step, on kernel path `isa` (forced through KILN_ISA, which is put back
// afterwards) or, for nullptr, the runtime's own choice.
std::unique_ptr<Context> InitOrDie(const kiln::AlignedBytes& model,
                                   const OpModel& m, const char* isa);
// A second context for the same model (kiln_init_like of `first`).
std::unique_ptr<Context> InitLikeOrDie(const Context& first, const OpModel& m);

// m.items items for every graph input, filled from `in` (float inputs get
// arbitrary bit patterns: NaN and infinities too).
std::vector<std::vector<uint8_t>> MakeInputs(const Context& c, const OpModel& m,
                                             FuzzInput* in);

// kiln_invoke (one context) or kiln_invoke_parallel (several, one task
// each on this thread) over m.items items; checks that every decision is
// well formed.
RunResult InvokeOrDie(const std::vector<Context*>& contexts, const OpModel& m,
                      const std::vector<std::vector<uint8_t>>& inputs);

}  // namespace kiln_fuzz

#endif  // KILN_FUZZ_OP_MODEL_RUN_H_
