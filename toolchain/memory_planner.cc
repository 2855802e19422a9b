#include "toolchain/memory_planner.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln {
namespace {

struct Interval {
  size_t tensor;
  int64_t first, last;  // live range, inclusive
  uint64_t bytes;       // per item, before alignment
  uint64_t offset = 0;
};

bool Overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
  return a0 <= b1 && b0 <= a1;
}

uint64_t AlignUp(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

void CheckIndex(uint32_t index, size_t count, const char* what) {
  if (index >= count) {
    throw std::invalid_argument(std::string(what) + " names tensor " +
                                std::to_string(index) + " but there are " +
                                std::to_string(count));
  }
}

bool IsActivation(const TensorDef& t) { return t.batched && t.buffer == 0; }

// Computes [first, last] for every tensor. Unused tensors get [-1, -1].
void LiveRanges(const ModelDef& model, std::vector<int64_t>* first,
                std::vector<int64_t>* last) {
  const size_t n = model.tensors.size();
  const int64_t end = static_cast<int64_t>(model.operators.size());
  first->assign(n, -1);
  last->assign(n, -1);
  std::vector<bool> written(n, false);
  for (size_t i = 0; i < model.operators.size(); ++i) {
    const OperatorDef& op = model.operators[i];
    for (uint32_t t : op.inputs) {
      CheckIndex(t, n, "an operator input");
      (*last)[t] = static_cast<int64_t>(i);
    }
    for (uint32_t t : op.outputs) {
      CheckIndex(t, n, "an operator output");
      // Keep the first writer: a second one is a graph error the runtime
      // reports; the plan just has to stay conservative.
      if (!written[t]) (*first)[t] = static_cast<int64_t>(i);
      written[t] = true;
    }
  }
  for (uint32_t t : model.inputs) {
    CheckIndex(t, n, "a graph input");
    (*first)[t] = -1;
  }
  for (uint32_t t : model.outputs) {
    CheckIndex(t, n, "a graph output");
    (*last)[t] = end;
  }
  for (size_t t = 0; t < n; ++t) {
    if ((*last)[t] < (*first)[t]) (*last)[t] = (*first)[t];
  }
}

}  // namespace

uint64_t TensorItemBytes(const TensorDef& tensor) {
  uint64_t bytes = DTypeSize(tensor.type);
  if (bytes == 0) {
    throw std::invalid_argument("tensor '" + tensor.name +
                                "' has an unknown dtype");
  }
  for (int32_t d : tensor.shape) {
    if (d < 0) {
      throw std::invalid_argument("tensor '" + tensor.name +
                                  "' has a negative dimension");
    }
    if (d != 0 && bytes > (uint64_t(1) << 48) / static_cast<uint64_t>(d)) {
      throw std::invalid_argument("tensor '" + tensor.name + "' is too large");
    }
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

MemoryPlanDef PlanMemory(const ModelDef& model) {
  std::vector<int64_t> first, last;
  LiveRanges(model, &first, &last);

  std::vector<Interval> items;
  for (size_t t = 0; t < model.tensors.size(); ++t) {
    if (!IsActivation(model.tensors[t])) continue;
    items.push_back({t, first[t], last[t], TensorItemBytes(model.tensors[t])});
  }
  // Largest first; the index breaks ties so the plan never depends on the
  // sort's stability.
  std::vector<Interval*> order;
  for (Interval& it : items) order.push_back(&it);
  std::sort(order.begin(), order.end(),
            [](const Interval* a, const Interval* b) {
              return a->bytes != b->bytes ? a->bytes > b->bytes
                                          : a->tensor < b->tensor;
            });

  MemoryPlanDef plan;
  plan.alignment = kPlanAlignment;
  plan.fixed_bytes = 0;
  plan.tensor_offsets.assign(model.tensors.size(), 0);
  std::vector<const Interval*> placed;
  uint64_t high_water = 0;
  for (Interval* it : order) {
    // Candidate offsets are 0 and the aligned end of each conflicting
    // tensor; the lowest candidate that fits is the lowest possible offset.
    std::vector<const Interval*> conflicts;
    for (const Interval* p : placed) {
      if (Overlaps(it->first, it->last, p->first, p->last)) {
        conflicts.push_back(p);
      }
    }
    std::vector<uint64_t> candidates = {0};
    for (const Interval* c : conflicts) {
      candidates.push_back(AlignUp(c->offset + c->bytes, kPlanAlignment));
    }
    std::sort(candidates.begin(), candidates.end());
    for (uint64_t offset : candidates) {
      bool fits = true;
      for (const Interval* c : conflicts) {
        if (offset < c->offset + c->bytes && c->offset < offset + it->bytes) {
          fits = false;
          break;
        }
      }
      if (fits) {
        it->offset = offset;
        break;
      }
    }
    placed.push_back(it);
    plan.tensor_offsets[it->tensor] = it->offset;
    high_water = std::max(high_water, it->offset + it->bytes);
  }
  plan.bytes_per_item = AlignUp(high_water, kPlanAlignment);
  return plan;
}

}  // namespace kiln
