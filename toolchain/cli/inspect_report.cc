#include "toolchain/cli/inspect_report.h"

#include <stdexcept>

#include "toolchain/memory_planner.h"

namespace kiln {
namespace cli {
namespace {

size_t Count(const std::optional<RequantDef>& r) {
  return r ? r->multiplier.size() : 0;
}

}  // namespace

size_t RequantCount(const OperatorDef& op) {
  switch (op.kind) {
    case OpKind::kConv2D:
      return Count(op.conv2d.requant);
    case OpKind::kFullyConnected:
      return Count(op.fully_connected.requant);
    case OpKind::kAdd:
      return Count(op.add.input1_requant) + Count(op.add.input2_requant) +
             Count(op.add.output_requant);
    case OpKind::kGlobalAveragePool:
      return Count(op.global_average_pool.requant);
    case OpKind::kConcat: {
      size_t n = 0;
      for (const RequantDef& r : op.concat.requant) n += r.multiplier.size();
      return n;
    }
    case OpKind::kQuantize:
      return Count(op.quantize.requant);
    default:
      return 0;
  }
}

size_t TensorBytes(const TensorDef& tensor) {
  try {
    return static_cast<size_t>(TensorItemBytes(tensor));
  } catch (const std::invalid_argument&) {
    return 0;  // unreachable for a model the runtime accepted
  }
}

}  // namespace cli
}  // namespace kiln
