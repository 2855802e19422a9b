// Differential: the reference kernels against every SIMD path. A one-op
// model (fuzz/op_model_gen.h) with fuzz-filled inputs runs on every path in
// kiln_supported_isas() (forced with KILN_ISA) and, once, through
// kiln_invoke_parallel on two contexts of the default path; every output
// byte and decision must equal the "ref" path's (docs/runtime.md,
// "Exactness"). A mismatch prints the path, tensor and byte, then aborts.
// Seeds: fuzz/corpus/kiln_fuzz_differential.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "fuzz/op_model_gen.h"
#include "fuzz/op_model_run.h"

namespace {

using kiln_fuzz::OpModel;
using kiln_fuzz::RunResult;

void FirstDifference(const uint8_t* a, const uint8_t* b, size_t n, size_t* at) {
  for (*at = 0; *at < n && a[*at] == b[*at]; ++*at) {
  }
}

void RequireSame(const OpModel& m, const char* path, const RunResult& ref,
                 const RunResult& got) {
  for (size_t o = 0; o < ref.outputs.size(); ++o) {
    const auto& want = ref.outputs[o];
    const auto& have = got.outputs[o];
    size_t at = 0;
    FirstDifference(want.data(), have.data(), want.size(), &at);
    if (at < want.size()) {
      fprintf(stderr,
              "kiln fuzz: path %s differs from ref: output %zu byte %zu "
              "(of %zu): %u vs ref %u\n  model: %s\n",
              path, o, at, want.size(), have[at], want[at],
              m.description.c_str());
      abort();
    }
  }
  // Field by field (a memcmp would also compare padding, if any).
  for (size_t i = 0; i < ref.decisions.size(); ++i) {
    const kiln_decision& w = ref.decisions[i];
    const kiln_decision& h = got.decisions[i];
    const bool same = memcmp(w.class_id, h.class_id, sizeof(w.class_id)) == 0 &&
                      memcmp(w.score, h.score, sizeof(w.score)) == 0 &&
                      w.k == h.k && w.confidence == h.confidence &&
                      w.fallback == h.fallback;
    if (!same) {
      fprintf(stderr,
              "kiln fuzz: path %s differs from ref: decision %zu (class %d "
              "confidence %d fallback %d vs ref %d %d %d)\n  model: %s\n",
              path, i, h.class_id[0], h.confidence, h.fallback, w.class_id[0],
              w.confidence, w.fallback, m.description.c_str());
      abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln_fuzz;
  FuzzInput in(data, size);
  OpModel m;
  std::string why;
  if (!GenerateOpModel(&in, &m, &why)) return 0;
  const kiln::AlignedBytes model(m.bytes);
  const std::unique_ptr<Context> ref = InitOrDie(model, m, "ref");
  const auto inputs = MakeInputs(*ref, m, &in);
  const RunResult want = InvokeOrDie({ref.get()}, m, inputs);
  const uint32_t paths = kiln_supported_isas();
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    const char* name = kiln_isa_name_of(i);
    if ((paths >> i & 1) == 0 || strcmp(name, "ref") == 0) continue;
    const std::unique_ptr<Context> c = InitOrDie(model, m, name);
    RequireSame(m, name, want, InvokeOrDie({c.get()}, m, inputs));
  }
  // Two contexts sharing the first one's prepacked weights, items split
  // between them.
  const std::unique_ptr<Context> first = InitOrDie(model, m, nullptr);
  const std::unique_ptr<Context> second = InitLikeOrDie(*first, m);
  RequireSame(m, "parallel(2)", want,
              InvokeOrDie({first.get(), second.get()}, m, inputs));
  return 0;
}
