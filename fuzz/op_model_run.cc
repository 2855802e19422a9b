#include "fuzz/op_model_run.h"

#include <stdio.h>
#include <stdlib.h>

#include <string>

namespace kiln_fuzz {
namespace {

[[noreturn]] void Die(const OpModel& m, const std::string& what) {
  fprintf(stderr, "kiln fuzz: %s\n  model: %s\n", what.c_str(),
          m.description.c_str());
  abort();
}

// Sets KILN_ISA for the life of the object and restores what was there.
class ScopedIsa {
 public:
  explicit ScopedIsa(const char* isa) {
    const char* old = getenv("KILN_ISA");
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (isa != nullptr) setenv("KILN_ISA", isa, 1);
  }
  ~ScopedIsa() {
    if (had_) {
      setenv("KILN_ISA", old_.c_str(), 1);
    } else {
      unsetenv("KILN_ISA");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

// The decision contract of docs/runtime.md, checked item by item.
void CheckDecision(const OpModel& m, const kiln_head_info& head,
                   const kiln_decision& d) {
  const int32_t classes = head.num_classes;
  bool ok = d.k == head.top_k && d.k >= 1 && d.k <= KILN_MAX_TOP_K &&
            (d.fallback == 0 || d.fallback == 1) &&
            d.fallback == (d.confidence < head.threshold ? 1 : 0);
  const int32_t limit = head.confidence == KILN_CONFIDENCE_MARGIN ? 255 : 65536;
  ok = ok && d.confidence >= 0 && d.confidence <= limit;
  for (int32_t i = 0; ok && i < KILN_MAX_TOP_K; ++i) {
    if (i >= d.k) {
      ok = d.class_id[i] == -1;
      continue;
    }
    ok = d.class_id[i] >= 0 && d.class_id[i] < classes && d.score[i] >= -128 &&
         d.score[i] <= 127;
    if (ok && i > 0) {  // best first, ties: lower id first
      ok = d.score[i] < d.score[i - 1] ||
           (d.score[i] == d.score[i - 1] && d.class_id[i] > d.class_id[i - 1]);
    }
  }
  if (!ok) {
    Die(m, "malformed decision: k " + std::to_string(d.k) + " confidence " +
               std::to_string(d.confidence) + " fallback " +
               std::to_string(d.fallback));
  }
}

}  // namespace

std::unique_ptr<Context> InitOrDie(const kiln::AlignedBytes& model,
                                   const OpModel& m, const char* isa) {
  auto c = std::make_unique<Context>();
  size_t need = 0;
  kiln_error err{};
  if (kiln_arena_size(model.data(), model.size(), m.batch, &need, &err) !=
      KILN_OK) {
    Die(m,
        std::string("kiln_arena_size refused a built model: ") + err.message);
  }
  c->arena.resize(need);
  const ScopedIsa scoped(isa);
  const kiln_status status = kiln_init(model.data(), model.size(),
                                       c->arena.data(), need, &c->ctx, &err);
  if (status != KILN_OK || c->ctx == nullptr) {
    Die(m, std::string("kiln_init (") + (isa ? isa : "default") +
               ") refused a built model: " + kiln_status_string(status) + ": " +
               err.message);
  }
  return c;
}

std::unique_ptr<Context> InitLikeOrDie(const Context& first, const OpModel& m) {
  auto c = std::make_unique<Context>();
  c->arena.resize(first.arena.size());
  kiln_error err{};
  if (kiln_init_like(first.ctx, c->arena.data(), c->arena.size(), &c->ctx,
                     &err) != KILN_OK) {
    Die(m, std::string("kiln_init_like failed: ") + err.message);
  }
  return c;
}

std::vector<std::vector<uint8_t>> MakeInputs(const Context& c, const OpModel& m,
                                             FuzzInput* in) {
  std::vector<std::vector<uint8_t>> inputs;
  for (int32_t i = 0; i < kiln_num_inputs(c.ctx); ++i) {
    kiln_tensor_info info;
    kiln_get_input_info(c.ctx, i, &info);
    inputs.push_back(in->Bytes(m.items * info.item_bytes));
  }
  return inputs;
}

RunResult InvokeOrDie(const std::vector<Context*>& contexts, const OpModel& m,
                      const std::vector<std::vector<uint8_t>>& inputs) {
  kiln_context* ctx = contexts[0]->ctx;
  RunResult r;
  std::vector<const void*> in_ptrs;
  for (const auto& bytes : inputs) in_ptrs.push_back(bytes.data());
  std::vector<void*> out_ptrs;
  r.outputs.resize(static_cast<size_t>(kiln_num_outputs(ctx)));
  for (int32_t i = 0; i < kiln_num_outputs(ctx); ++i) {
    kiln_tensor_info info;
    kiln_get_output_info(ctx, i, &info);
    r.outputs[i].assign(m.items * info.item_bytes, 0);
    out_ptrs.push_back(r.outputs[i].data());
  }
  const int32_t heads = kiln_num_heads(ctx);
  r.decisions.assign(m.items * static_cast<size_t>(heads), kiln_decision{});
  kiln_decision* decisions = heads > 0 ? r.decisions.data() : nullptr;
  kiln_status status;
  if (contexts.size() == 1) {
    status =
        kiln_invoke(ctx, m.items, in_ptrs.data(), out_ptrs.data(), decisions);
  } else {
    std::vector<kiln_context*> ctxs;
    for (Context* c : contexts) ctxs.push_back(c->ctx);
    status = kiln_invoke_parallel(
        ctxs.data(), static_cast<int32_t>(ctxs.size()), m.items, in_ptrs.data(),
        out_ptrs.data(), decisions, nullptr, nullptr);
  }
  if (status != KILN_OK) {
    Die(m, std::string("kiln_invoke failed on an initialized context: ") +
               kiln_status_string(status));
  }
  for (int32_t h = 0; h < heads; ++h) {
    kiln_head_info head;
    kiln_get_head_info(ctx, h, &head);
    for (size_t item = 0; item < m.items; ++item) {
      CheckDecision(m, head, r.decisions[item * heads + h]);
    }
  }
  return r;
}

}  // namespace kiln_fuzz
