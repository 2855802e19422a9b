#include "bench/latency_gate_workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fstream>
#include <iterator>
#include <random>
#include <utility>

#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace gate {
namespace {

uint8_t* Aligned(size_t n) {
  return static_cast<uint8_t*>(aligned_alloc(64, (n + 63) / 64 * 64));
}

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  return !out->empty();
}

// Inputs in the tensor's own domain: standard normal floats for float
// inputs (a Quantize op then sees realistic values), random bytes otherwise.
// The content does not change the time of integer kernels; it is seeded so
// that every run executes the same instructions anyway.
std::vector<uint8_t> SeededInput(const kiln_tensor_info& info, size_t batch,
                                 uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(info.item_bytes * batch);
  if (info.dtype == KILN_FLOAT32) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      const float f = normal(rng);
      memcpy(&bytes[i], &f, 4);
    }
  } else {
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  }
  return bytes;
}

}  // namespace

std::unique_ptr<Workload> Workload::Create(std::string name,
                                           const std::vector<uint8_t>& model,
                                           size_t batch, std::string* error) {
  std::unique_ptr<Workload> w(new Workload());
  w->name_ = std::move(name);
  w->batch_ = batch;
  w->model_ = Aligned(model.size());
  memcpy(w->model_, model.data(), model.size());
  size_t need = 0;
  kiln_error err;
  if (kiln_arena_size(w->model_, model.size(), batch, &need, &err) != KILN_OK) {
    *error = w->name_ + ": " + err.message;
    return nullptr;
  }
  w->arena_ = Aligned(need);
  if (kiln_init(w->model_, model.size(), w->arena_, need, &w->ctx_, &err) !=
      KILN_OK) {
    *error = w->name_ + ": " + err.message;
    return nullptr;
  }
  const int32_t num_inputs = kiln_num_inputs(w->ctx_);
  for (int32_t i = 0; i < num_inputs; ++i) {
    kiln_tensor_info info;
    kiln_get_input_info(w->ctx_, i, &info);
    w->inputs_.push_back(SeededInput(info, batch, 1000u + uint32_t(i)));
  }
  for (const auto& in : w->inputs_) w->input_ptrs_.push_back(in.data());
  w->decisions_.resize(batch * size_t(kiln_num_heads(w->ctx_)));
  return w;
}

Workload::~Workload() {
  free(model_);
  free(arena_);
}

void Workload::Invoke() {
  kiln_invoke(ctx_, batch_, input_ptrs_.data(), nullptr, decisions_.data());
}

bool LoadGateWorkloads(const std::string& source_dir,
                       std::vector<std::unique_ptr<Workload>>* out,
                       std::string* error) {
  std::vector<uint8_t> block_model;
  const std::string block_path =
      source_dir + "/examples/block_predict/block_model.kiln";
  if (!ReadFile(block_path, &block_model)) {
    *error = "cannot read " + block_path + " (set --source-dir)";
    return false;
  }
  struct Spec {
    const char* name;
    std::vector<uint8_t> bytes;
    size_t batch;
  };
  const Spec specs[] = {
      {"mlp160_b1", zoo::BuildOrDie(zoo::Mlp160(1, false)), 1},
      {"blocknet_b256", zoo::BuildOrDie(zoo::BlockNet(1)), 256},
      {"block_model_b256", block_model, 256},
  };
  for (const Spec& s : specs) {
    std::unique_ptr<Workload> w =
        Workload::Create(s.name, s.bytes, s.batch, error);
    if (!w) return false;
    out->push_back(std::move(w));
  }
  return true;
}

}  // namespace gate
}  // namespace kiln
