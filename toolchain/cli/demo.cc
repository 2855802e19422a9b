// `kiln demo`: the end-to-end path before training exists. Builds the
// block-decision network (seeded weights) with the model builder, writes it
// to a file, loads that file into the runtime exactly as a codec would, runs
// a batch of 8x8 blocks and prints decisions, fallback rates and latency.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/atomic_file.h"
#include "toolchain/cli/command.h"
#include "toolchain/serialize.h"
#include "toolchain/zoo/reference_models.h"

namespace kiln {
namespace cli {

const char kDemoUsage[] =
    "usage: kiln demo [--out DIR] [--blocks N] [--repeats R]\n"
    "\n"
    "Builds the 4-head block network (seeded weights, no training yet),\n"
    "writes DIR/blocknet.kiln (default out/demo), loads it through the\n"
    "runtime and runs N synthetic 8x8 RGB blocks (default 4096) in one\n"
    "batched call, R times (default 5). Prints per-head decisions for the\n"
    "first blocks, fallback rates, and median latency.\n";

namespace {

using Clock = std::chrono::steady_clock;

// Smooth gradients, edges and noise: the kinds of blocks a codec meets.
std::vector<uint8_t> SyntheticBlocks(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> base(0, 255), slope(-12, 12), kind(0, 2),
      noise(-6, 6);
  std::vector<uint8_t> pixels(n * 192);
  for (size_t b = 0; b < n; ++b) {
    const int k = kind(rng);
    int c0[3], dx[3], dy[3];
    for (int c = 0; c < 3; ++c) {
      c0[c] = base(rng), dx[c] = slope(rng), dy[c] = slope(rng);
    }
    const int edge = base(rng) % 8;
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        for (int c = 0; c < 3; ++c) {
          int v = c0[c] + dx[c] * x + dy[c] * y;
          if (k == 1 && x >= edge) v += 80;
          if (k == 2) v += noise(rng) * 4;
          pixels[b * 192 + (y * 8 + x) * 3 + c] =
              static_cast<uint8_t>(std::clamp(v, 0, 255));
        }
      }
    }
  }
  return pixels;
}

double MedianMicros(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool ParseCount(const std::string& text, size_t lo, size_t hi, size_t* out) {
  char* end = nullptr;
  const unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text[0] == '-' || v < lo || v > hi) {
    return false;
  }
  *out = static_cast<size_t>(v);
  return true;
}

// Model bytes in 64-byte aligned storage, as the runtime requires.
struct AlignedModel {
  std::vector<uint64_t> storage;
  size_t size = 0;
  explicit AlignedModel(const std::vector<uint8_t>& bytes)
      : storage(bytes.size() / 8 + 8), size(bytes.size()) {
    memcpy(storage.data(), bytes.data(), bytes.size());
  }
  const void* data() const { return storage.data(); }
};

}  // namespace

int RunDemo(const Args& args) {
  std::string out_dir = "out/demo";
  size_t blocks = 4096, repeats = 5;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--out" && has_value) {
      out_dir = args[++i];
    } else if (a == "--blocks" && has_value) {
      if (!ParseCount(args[++i], 1, 1 << 20, &blocks)) {
        fprintf(stderr, "kiln demo: --blocks takes 1..1048576\n");
        return kExitUsage;
      }
    } else if (a == "--repeats" && has_value) {
      if (!ParseCount(args[++i], 1, 10000, &repeats)) {
        fprintf(stderr, "kiln demo: --repeats takes 1..10000\n");
        return kExitUsage;
      }
    } else {
      fprintf(stderr, "kiln demo: unexpected argument '%s'\n%s", a.c_str(),
              kDemoUsage);
      return kExitUsage;
    }
  }

  // 1. Build and write the model file.
  std::string error;
  std::error_code fs_error;
  std::filesystem::create_directories(out_dir, fs_error);
  if (fs_error) {
    fprintf(stderr, "kiln demo: cannot create %s: %s\n", out_dir.c_str(),
            fs_error.message().c_str());
    return kExitFailure;
  }
  const std::string path = out_dir + "/blocknet.kiln";
  if (!WriteFileAtomic(path, zoo::BuildOrDie(zoo::BlockNet(1)), &error)) {
    fprintf(stderr, "kiln demo: %s\n", error.c_str());
    return kExitFailure;
  }

  // 2. Load it as a deployment would: file bytes -> verify -> arena.
  std::vector<uint8_t> file;
  if (!ReadFileBytes(path, &file, &error)) {
    fprintf(stderr, "kiln demo: %s\n", error.c_str());
    return kExitFailure;
  }
  const AlignedModel model(file);
  kiln_error err;
  size_t arena_bytes = 0;
  if (kiln_arena_size(model.data(), model.size, blocks, &arena_bytes, &err) !=
      KILN_OK) {
    fprintf(stderr, "kiln demo: %s\n", err.message);
    return kExitFailure;
  }
  std::vector<uint64_t> arena(arena_bytes / 8 + 1);
  kiln_context* ctx = nullptr;
  const auto t0 = Clock::now();
  if (kiln_init(model.data(), model.size, arena.data(), arena_bytes, &ctx,
                &err) != KILN_OK) {
    fprintf(stderr, "kiln demo: %s\n", err.message);
    return kExitFailure;
  }
  const double init_us =
      std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  printf("model      %s (%zu bytes), verified and initialized in %.0f us\n",
         path.c_str(), model.size, init_us);
  printf("arena      %zu bytes for %zu blocks per call\n", arena_bytes, blocks);

  // 3. One batched call over all blocks, repeated for a stable median.
  const std::vector<uint8_t> pixels = SyntheticBlocks(blocks, 7);
  const int32_t heads = kiln_num_heads(ctx);
  std::vector<kiln_decision> decisions(blocks * heads);
  const void* inputs[] = {pixels.data()};
  std::vector<double> times;
  for (size_t r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    kiln_invoke(ctx, blocks, inputs, nullptr, decisions.data());
    times.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start)
            .count());
  }
  const double batch_us = MedianMicros(times);

  printf("\nfirst blocks (top-k candidates, Q16 confidence, fallback):\n");
  for (size_t b = 0; b < std::min<size_t>(blocks, 3); ++b) {
    printf("  block %zu\n", b);
    for (int32_t h = 0; h < heads; ++h) {
      kiln_head_info info;
      kiln_get_head_info(ctx, h, &info);
      const kiln_decision& d = decisions[b * heads + h];
      printf("    %-10s", info.name);
      for (int32_t i = 0; i < d.k; ++i) {
        printf(" %s", kiln_head_label(ctx, h, d.class_id[i]));
      }
      printf("  confidence %.3f%s\n", d.confidence / 65536.0,
             d.fallback ? "  -> fallback (full search)" : "");
    }
  }
  printf("\nfallback rate per head (threshold on top-k probability):\n");
  size_t any_fallback = 0;
  for (size_t b = 0; b < blocks; ++b) {
    bool any = false;
    for (int32_t h = 0; h < heads; ++h)
      any |= decisions[b * heads + h].fallback;
    any_fallback += any;
  }
  for (int32_t h = 0; h < heads; ++h) {
    kiln_head_info info;
    kiln_get_head_info(ctx, h, &info);
    size_t n = 0;
    for (size_t b = 0; b < blocks; ++b) n += decisions[b * heads + h].fallback;
    printf("  %-10s k=%d  threshold %.2f  fallback %5.1f%%\n", info.name,
           info.top_k, info.threshold_real, 100.0 * n / blocks);
  }
  printf("  any head   fallback %5.1f%%\n", 100.0 * any_fallback / blocks);
  printf(
      "\nlatency    %zu blocks in %.1f us median of %zu calls: %.3f us per "
      "block, %.0f blocks/s (reference kernels, 1 thread)\n",
      blocks, batch_us, repeats, batch_us / blocks, blocks / (batch_us * 1e-6));
  printf(
      "note       weights are seeded, not trained: decisions show the\n"
      "           pipeline, not accuracy (training arrives with `kiln "
      "train`).\n");
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
