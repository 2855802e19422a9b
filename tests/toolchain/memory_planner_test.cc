#include "toolchain/memory_planner.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace kiln {
namespace {

TensorDef Activation(const std::string& name, std::vector<int32_t> shape,
                     DType type = DType::kInt8) {
  TensorDef t;
  t.name = name;
  t.type = type;
  t.shape = std::move(shape);
  return t;
}

TensorDef Constant(const std::string& name, std::vector<int32_t> shape,
                   uint32_t buffer) {
  TensorDef t = Activation(name, std::move(shape));
  t.batched = false;
  t.buffer = buffer;
  return t;
}

OperatorDef Op(std::vector<uint32_t> in, std::vector<uint32_t> out) {
  OperatorDef op;
  op.kind = OpKind::kReshape;
  op.inputs = std::move(in);
  op.outputs = std::move(out);
  return op;
}

// A chain t0 -> t1 -> ... -> t(n-1) of element-wise ops.
ModelDef Chain(const std::vector<int32_t>& sizes) {
  ModelDef m;
  for (size_t i = 0; i < sizes.size(); ++i) {
    m.tensors.push_back(Activation("t" + std::to_string(i), {sizes[i]}));
  }
  for (uint32_t i = 0; i + 1 < sizes.size(); ++i) {
    m.operators.push_back(Op({i}, {i + 1}));
  }
  m.inputs = {0};
  m.outputs = {static_cast<uint32_t>(sizes.size() - 1)};
  return m;
}

struct Range {
  int64_t first, last;
};

// Independent re-derivation of the live ranges the planner must respect.
std::vector<Range> Ranges(const ModelDef& m) {
  std::vector<Range> r(m.tensors.size(), Range{-1, -1});
  for (size_t i = 0; i < m.operators.size(); ++i) {
    for (uint32_t t : m.operators[i].outputs) r[t].first = int64_t(i);
    for (uint32_t t : m.operators[i].inputs) r[t].last = int64_t(i);
  }
  for (uint32_t t : m.inputs) r[t].first = -1;
  for (uint32_t t : m.outputs) r[t].last = int64_t(m.operators.size());
  for (Range& x : r) x.last = std::max(x.last, x.first);
  return r;
}

void ExpectValidPlan(const ModelDef& m, const MemoryPlanDef& plan) {
  ASSERT_EQ(plan.tensor_offsets.size(), m.tensors.size());
  EXPECT_EQ(plan.alignment, 64u);
  EXPECT_EQ(plan.fixed_bytes, 0u);
  EXPECT_EQ(plan.bytes_per_item % 64, 0u);
  const std::vector<Range> r = Ranges(m);
  for (size_t a = 0; a < m.tensors.size(); ++a) {
    const TensorDef& ta = m.tensors[a];
    if (!ta.batched || ta.buffer != 0) {
      EXPECT_EQ(plan.tensor_offsets[a], 0u) << "constant " << a;
      continue;
    }
    const uint64_t a0 = plan.tensor_offsets[a];
    const uint64_t a1 = a0 + TensorItemBytes(ta);
    EXPECT_EQ(a0 % 64, 0u) << "tensor " << a;
    EXPECT_LE(a1, plan.bytes_per_item) << "tensor " << a;
    for (size_t b = a + 1; b < m.tensors.size(); ++b) {
      const TensorDef& tb = m.tensors[b];
      if (!tb.batched || tb.buffer != 0) continue;
      const bool live_together =
          r[a].first <= r[b].last && r[b].first <= r[a].last;
      if (!live_together) continue;
      const uint64_t b0 = plan.tensor_offsets[b];
      const uint64_t b1 = b0 + TensorItemBytes(tb);
      EXPECT_TRUE(a1 <= b0 || b1 <= a0)
          << "tensors " << a << " and " << b << " overlap while both live";
    }
  }
}

TEST(TensorItemBytes, ElementSizes) {
  EXPECT_EQ(TensorItemBytes(Activation("a", {2, 3}, DType::kInt8)), 6u);
  EXPECT_EQ(TensorItemBytes(Activation("a", {2, 3}, DType::kUInt8)), 6u);
  EXPECT_EQ(TensorItemBytes(Activation("a", {2, 3}, DType::kInt32)), 24u);
  EXPECT_EQ(TensorItemBytes(Activation("a", {2, 3}, DType::kFloat32)), 24u);
  EXPECT_THROW(TensorItemBytes(Activation("a", {2, -3})),
               std::invalid_argument);
  EXPECT_THROW(TensorItemBytes(Activation("a", {2}, static_cast<DType>(9))),
               std::invalid_argument);
}

TEST(MemoryPlanner, ChainReusesMemory) {
  // Sizes 100, 200, 100, 200, 100: a chain only ever needs two live
  // buffers, so the plan is far below the sum (700 rounded).
  const ModelDef m = Chain({100, 200, 100, 200, 100});
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  // The two 200-byte tensors are not live together: they share offset 0.
  EXPECT_EQ(plan.tensor_offsets[1], plan.tensor_offsets[3]);
  EXPECT_EQ(plan.tensor_offsets[1], 0u);
  // 200 (rounded to 256) + 100 (rounded to 128) bytes.
  EXPECT_EQ(plan.bytes_per_item, 384u);
}

TEST(MemoryPlanner, InputAndOutputOfAnOpNeverShare) {
  const ModelDef m = Chain({64, 64});
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  EXPECT_NE(plan.tensor_offsets[0], plan.tensor_offsets[1]);
  EXPECT_EQ(plan.bytes_per_item, 128u);
}

TEST(MemoryPlanner, GraphInputsAndOutputsLiveThroughout) {
  // t0 (input) -> t1 -> t2 -> t3 (output); t0 is also a graph output, so it
  // must survive to the end and t2/t3 may not reuse it.
  ModelDef m = Chain({64, 64, 64, 64});
  m.outputs.push_back(0);
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  EXPECT_NE(plan.tensor_offsets[0], plan.tensor_offsets[2]);
  EXPECT_NE(plan.tensor_offsets[0], plan.tensor_offsets[3]);
}

TEST(MemoryPlanner, ConstantsAndUnbatchedTensorsGetNoSpace) {
  ModelDef m = Chain({10, 10});
  m.tensors.push_back(Constant("w", {1000}, 1));
  TensorDef unbatched = Activation("u", {5000});
  unbatched.batched = false;
  m.tensors.push_back(unbatched);
  m.operators[0].inputs.push_back(2);
  m.operators[0].inputs.push_back(3);
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  EXPECT_EQ(plan.bytes_per_item, 128u);
}

TEST(MemoryPlanner, BranchesStayApart) {
  // x -> a, x -> b, (a, b) -> c: a and b are live together.
  ModelDef m;
  for (const char* n : {"x", "a", "b", "c"}) {
    m.tensors.push_back(Activation(n, {70}));
  }
  m.operators = {Op({0}, {1}), Op({0}, {2}), Op({1, 2}, {3})};
  m.inputs = {0};
  m.outputs = {3};
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  // x lives until op 1, so x, a and b are live together at op 1; c may
  // reuse x's bytes. 70 bytes round to 128: three slots.
  EXPECT_EQ(plan.bytes_per_item, 3u * 128u);
  EXPECT_EQ(plan.tensor_offsets[3], plan.tensor_offsets[0]);
}

TEST(MemoryPlanner, LargestFirstAndTieBreakByIndex) {
  // Three tensors live together: the largest goes to offset 0, equal sizes
  // are placed in index order.
  ModelDef m;
  m.tensors = {Activation("s", {10}), Activation("l", {300}),
               Activation("m1", {100}), Activation("m2", {100})};
  m.operators = {Op({0, 1, 2, 3}, {})};
  m.inputs = {0, 1, 2, 3};
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  EXPECT_EQ(plan.tensor_offsets[1], 0u);
  EXPECT_EQ(plan.tensor_offsets[2], 320u);
  EXPECT_EQ(plan.tensor_offsets[3], 448u);
  EXPECT_EQ(plan.tensor_offsets[0], 576u);
  EXPECT_EQ(plan.bytes_per_item, 640u);
}

TEST(MemoryPlanner, FillsGapsLeftByDeadTensors) {
  // t0 (256) -> t1 (64) -> t2 (64) -> t3 (64), plus t4 (64) produced by op 0
  // and read by the last op. The largest (t0) dies at op 0; later tensors
  // reuse its bytes.
  ModelDef m = Chain({256, 64, 64, 64});
  m.tensors.push_back(Activation("t4", {64}));
  m.operators[0].outputs.push_back(4);
  m.operators[2].inputs.push_back(4);
  const MemoryPlanDef plan = PlanMemory(m);
  ExpectValidPlan(m, plan);
  EXPECT_EQ(plan.bytes_per_item, 256u + 128u);
}

TEST(MemoryPlanner, Deterministic) {
  ModelDef m = Chain({33, 700, 12, 700, 90, 5, 4000, 64});
  m.outputs.push_back(3);
  const MemoryPlanDef a = PlanMemory(m);
  const MemoryPlanDef b = PlanMemory(m);
  ExpectValidPlan(m, a);
  EXPECT_EQ(a.tensor_offsets, b.tensor_offsets);
  EXPECT_EQ(a.bytes_per_item, b.bytes_per_item);
}

TEST(MemoryPlanner, RandomGraphsNeverOverlap) {
  // Pseudo-random DAGs (fixed LCG seed so failures reproduce).
  uint32_t seed = 12345;
  auto next = [&seed](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  for (int trial = 0; trial < 50; ++trial) {
    ModelDef m;
    const uint32_t inputs = 1 + next(3);
    for (uint32_t i = 0; i < inputs; ++i) {
      m.tensors.push_back(
          Activation("in" + std::to_string(i), {int32_t(1 + next(500))}));
      m.inputs.push_back(i);
    }
    const uint32_t ops = 1 + next(12);
    for (uint32_t o = 0; o < ops; ++o) {
      const uint32_t n = static_cast<uint32_t>(m.tensors.size());
      const uint32_t out = n;
      m.tensors.push_back(Activation("t" + std::to_string(out),
                                     {int32_t(1 + next(1000))},
                                     next(2) ? DType::kInt8 : DType::kInt32));
      m.operators.push_back(Op({next(n), next(n)}, {out}));
    }
    m.outputs = {static_cast<uint32_t>(m.tensors.size() - 1), next(inputs)};
    ExpectValidPlan(m, PlanMemory(m));
  }
}

TEST(MemoryPlanner, RejectsOutOfRangeIndices) {
  ModelDef m = Chain({10, 10});
  m.operators[0].inputs = {7};
  EXPECT_THROW(PlanMemory(m), std::invalid_argument);
  m = Chain({10, 10});
  m.outputs = {2};
  EXPECT_THROW(PlanMemory(m), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
