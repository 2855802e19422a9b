// The models the latency gate times through the public C API, each with its
// own context (on the runtime's default, fastest kernel path), inputs and
// decision buffer, ready to invoke repeatedly.
#ifndef KILN_BENCH_LATENCY_GATE_WORKLOADS_H_
#define KILN_BENCH_LATENCY_GATE_WORKLOADS_H_

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln {
namespace gate {

class Workload {
 public:
  // Loads `model` (any alignment; copied) for `batch` items per invoke with
  // seeded random inputs. On failure returns null and sets *error.
  static std::unique_ptr<Workload> Create(std::string name,
                                          const std::vector<uint8_t>& model,
                                          size_t batch, std::string* error);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  const std::string& name() const { return name_; }
  kiln_context* ctx() const { return ctx_; }
  // One kiln_invoke of the whole batch with decisions.
  void Invoke();

 private:
  Workload() = default;
  std::string name_;
  size_t batch_ = 0;
  uint8_t* model_ = nullptr;
  uint8_t* arena_ = nullptr;
  kiln_context* ctx_ = nullptr;
  std::vector<std::vector<uint8_t>> inputs_;
  std::vector<const void*> input_ptrs_;
  std::vector<kiln_decision> decisions_;
};

// The gate's fixed set: mlp160 batch 1 (per-call overhead and GEMV),
// blocknet batch 256 (depthwise-separable convolutions, 4 heads) from the
// seeded reference zoo, and the committed block model
// (examples/block_predict/block_model.kiln under `source_dir`: float input,
// 4 heads of up to 96 classes) at batch 256. Batches stay at 256: at 1024
// the block model streams 0.5 MiB of float input per call and its score
// under a compile on the other vCPU spread by up to 40%, at 256 by about 5%.
// Returns false and sets *error if one cannot be loaded.
bool LoadGateWorkloads(const std::string& source_dir,
                       std::vector<std::unique_ptr<Workload>>* out,
                       std::string* error);

}  // namespace gate
}  // namespace kiln

#endif  // KILN_BENCH_LATENCY_GATE_WORKLOADS_H_
