// The offline memory plan (MemoryPlan in formats/kiln.fbs).
#ifndef KILN_TOOLCHAIN_MEMORY_PLANNER_H_
#define KILN_TOOLCHAIN_MEMORY_PLANNER_H_

#include <stdint.h>

#include "toolchain/model_def.h"

namespace kiln {

constexpr uint32_t kPlanAlignment = 64;

// Bytes of one item of a tensor: product(shape) * element size. Throws
// std::invalid_argument for a negative dim, an unknown dtype or overflow.
uint64_t TensorItemBytes(const TensorDef& tensor);

// Plans every activation tensor (batched, no constant buffer) of `model`.
//
// Live range of a tensor, in operator indices: from the operator that writes
// it (graph inputs and tensors nobody writes: -1) to the last operator that
// reads it (graph outputs: the number of operators, i.e. past the end). Two
// tensors may share bytes only if their ranges do not intersect; an op's
// input and output always intersect, so no op runs in place.
//
// Greedy by size: largest item first (ties: lower tensor index first), each
// at the lowest 64-aligned offset that overlaps no already placed tensor with
// an intersecting live range. Offsets and bytes_per_item are per item; the
// runtime multiplies them by the batch. Constants and unbatched tensors get
// offset 0. fixed_bytes is 0. Deterministic.
//
// Throws std::invalid_argument when an operator or graph input/output names
// a tensor index out of range, or a tensor's size cannot be computed.
MemoryPlanDef PlanMemory(const ModelDef& model);

}  // namespace kiln

#endif  // KILN_TOOLCHAIN_MEMORY_PLANNER_H_
