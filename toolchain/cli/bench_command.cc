// kiln bench MODEL [--batch N] [--threads T] [--reps R] [--warmup W]
//                  [--isa NAME] [--json | --peer]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.h"
#include "toolchain/aligned_bytes.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/json_writer.h"
#include "toolchain/cli/model_data.h"
#include "toolchain/model_reader.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace cli {

const char kBenchUsage[] =
    "usage: kiln bench MODEL [--batch N] [--threads T] [--reps R]\n"
    "                  [--warmup W] [--isa NAME] [--json | --peer]\n"
    "\n"
    "Times MODEL through the Kiln runtime: one deterministic random input of\n"
    "the model's shape and type per graph input (N(0,1) for float inputs,\n"
    "uniform bytes for integer ones), W untimed calls, then R calls of N\n"
    "items each, every call timed on its own (steady clock; loading and\n"
    "kiln_init are not timed). Prints the median, p90, min and mean latency\n"
    "per call in microseconds, items per second, the effective GMAC/s (MACs\n"
    "of the Conv2D and FullyConnected operators), the kernel path and the\n"
    "arena size.\n"
    "\n"
    "options:\n"
    "  --batch N     items per call (default 1)\n"
    "  --threads T   threads per call (default 1): T contexts, one arena\n"
    "                each, the items split into contiguous ranges by\n"
    "                kiln_invoke_parallel, one per context (at most N); the\n"
    "                command's own thread runs one range. Items are not\n"
    "                split, so batch 1 runs on one thread\n"
    "  --reps R      timed calls (default 20)\n"
    "  --warmup W    untimed calls first (default 3; 0 allowed)\n"
    "  --isa NAME    force the kernel path (sets KILN_ISA for kiln_init):\n"
    "                ref, scalar, avx2, avxvnni, avx512vnni, amx, neon,\n"
    "                neondot; default: the fastest this CPU runs\n"
    "  --json        print one JSON object (with every sample)\n"
    "  --peer        print only {\"samples_us\":[...],\"cpu_us\":[...]} on "
    "one\n"
    "                line, the extra-peer contract of ../shared/peers\n"
    "                (cpu_us: process CPU time per call); the summary goes\n"
    "                to stderr\n"
    "  -h, --help    show this help\n"
    "\n"
    "exit status: 0 ok, 1 failure (unreadable or invalid model, a path this\n"
    "CPU cannot run, out of memory), 2 bad usage\n";

namespace {

constexpr uint64_t kMaxBatch = 1000000;
constexpr uint64_t kMaxThreads = 256;
constexpr uint64_t kMaxReps = 10000000;

struct BenchArgs {
  std::string model;
  size_t batch = 1;
  int32_t threads = 1;
  size_t reps = 20;
  size_t warmup = 3;
  std::string isa;  // empty: the runtime's choice
  bool json = false;
  bool peer = false;
};

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln bench: %s\n(run 'kiln bench --help')\n",
          message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  fprintf(stderr, "kiln bench: %s\n", message.c_str());
  return kExitFailure;
}

// Index of a kernel path name, or -1.
int32_t IsaIndex(const std::string& name) {
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    const char* n = kiln_isa_name_of(i);
    if (n != nullptr && name == n) return i;
  }
  return -1;
}

std::string IsaNames(uint32_t mask) {
  std::string names;
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((mask >> i) & 1) {
      names += std::string(names.empty() ? "" : ", ") + kiln_isa_name_of(i);
    }
  }
  return names;
}

// Returns kExitOk, or the exit code of a usage error already reported.
int ParseArgs(const Args& args, BenchArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    bool missing = false;
    uint64_t n = 0;
    if (FlagValue(args, &i, "--batch", &value, &missing)) {
      if (!ParseCount(value, kMaxBatch, &n)) {
        return UsageError("--batch wants an integer from 1 to " +
                          std::to_string(kMaxBatch) + ", not '" + value + "'");
      }
      out->batch = n;
    } else if (!missing && FlagValue(args, &i, "--threads", &value, &missing)) {
      if (!ParseCount(value, kMaxThreads, &n)) {
        return UsageError("--threads wants an integer from 1 to " +
                          std::to_string(kMaxThreads) + ", not '" + value +
                          "'");
      }
      out->threads = static_cast<int32_t>(n);
    } else if (!missing && FlagValue(args, &i, "--reps", &value, &missing)) {
      if (!ParseCount(value, kMaxReps, &n)) {
        return UsageError("--reps wants an integer from 1 to " +
                          std::to_string(kMaxReps) + ", not '" + value + "'");
      }
      out->reps = n;
    } else if (!missing && FlagValue(args, &i, "--warmup", &value, &missing)) {
      if (value == "0") {
        out->warmup = 0;
      } else if (!ParseCount(value, kMaxReps, &n)) {
        return UsageError("--warmup wants an integer from 0 to " +
                          std::to_string(kMaxReps) + ", not '" + value + "'");
      } else {
        out->warmup = n;
      }
    } else if (!missing && FlagValue(args, &i, "--isa", &value, &missing)) {
      if (IsaIndex(value) < 0) {
        return UsageError("unknown kernel path '" + value + "' (one of " +
                          IsaNames((1u << KILN_ISA_COUNT) - 1) + ")");
      }
      out->isa = value;
    } else if (missing) {
      return UsageError(a + " needs a value");
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--peer") {
      out->peer = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown option '" + a + "'");
    } else if (out->model.empty()) {
      out->model = a;
    } else {
      return UsageError("more than one MODEL ('" + out->model + "', '" + a +
                        "')");
    }
  }
  if (out->model.empty()) return UsageError("missing MODEL");
  if (out->json && out->peer) {
    return UsageError("--json and --peer are exclusive");
  }
  return kExitOk;
}

// Conv2D: output positions x filter size (depthwise too); FullyConnected:
// filter size. The way ../shared/peers/tools/macs.py counts Conv and Gemm.
uint64_t MacsPerItem(const ModelDef& def) {
  uint64_t macs = 0;
  for (const OperatorDef& op : def.operators) {
    if (op.kind != OpKind::kConv2D && op.kind != OpKind::kFullyConnected) {
      continue;
    }
    if (op.inputs.size() < 2 || op.inputs[1] >= def.tensors.size()) continue;
    uint64_t m = 1;
    for (int32_t d : def.tensors[op.inputs[1]].shape) m *= uint64_t(d);
    if (op.kind == OpKind::kConv2D && !op.outputs.empty() &&
        op.outputs[0] < def.tensors.size()) {
      const std::vector<int32_t>& out = def.tensors[op.outputs[0]].shape;
      if (out.size() == 3) m *= uint64_t(out[0]) * uint64_t(out[1]);
    }
    macs += m;
  }
  return macs;
}

// A 64-byte aligned block (arenas, inputs).
class Block {
 public:
  Block() = default;
  explicit Block(size_t bytes) { Reset(bytes); }
  ~Block() { free(data_); }
  Block(Block&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  bool Reset(size_t bytes) {
    free(data_);
    size_ = bytes;
    data_ = static_cast<uint8_t*>(
        aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0)));
    if (data_ != nullptr) memset(data_, 0, bytes);
    return data_ != nullptr;
  }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// One pause of a spin-wait loop (lets the sibling hyperthread run).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Worker threads lent to kiln_invoke_parallel; the caller's thread takes
// tasks too. Between calls a worker spins for up to kSpin before it sleeps
// on a condition variable, and the caller spins the same way for the last
// worker: benchmark calls come back to back, and waking a sleeping thread
// costs 50-100 us on a busy machine, more than a small call takes.
class TaskPool {
 public:
  explicit TaskPool(int32_t workers) {
    for (int32_t i = 0; i < workers; ++i) {
      threads_.emplace_back([this] { WorkerLoop(); });
    }
  }
  ~TaskPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    start_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // kiln_parallel_for_fn; user is the pool.
  static void ParallelFor(void* user, int32_t num_tasks, kiln_task_fn task,
                          void* task_ctx) {
    static_cast<TaskPool*>(user)->Run(num_tasks, task, task_ctx);
  }

 private:
  static constexpr std::chrono::microseconds kSpin{200};

  // Spins until done() or kSpin has passed; returns done().
  template <typename Done>
  static bool SpinFor(const Done& done) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
      if (done()) return true;
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
        return false;
      }
      CpuRelax();
    }
  }

  void Run(int32_t num_tasks, kiln_task_fn task, void* task_ctx) {
    // The workers only read these after seeing the new generation, and the
    // previous call ended when every worker was done with them.
    task_ = task;
    task_ctx_ = task_ctx;
    num_tasks_ = num_tasks;
    next_.store(0);
    busy_.store(static_cast<int32_t>(threads_.size()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1);
    }
    start_.notify_all();
    TakeTasks(task, task_ctx, num_tasks);
    const auto all_done = [this] { return busy_.load() == 0; };
    if (!SpinFor(all_done)) {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, all_done);
    }
  }

  void TakeTasks(kiln_task_fn task, void* task_ctx, int32_t num_tasks) {
    for (int32_t i = next_.fetch_add(1); i < num_tasks;
         i = next_.fetch_add(1)) {
      task(task_ctx, i);
    }
  }

  void WorkerLoop() {
    uint64_t seen = 0;
    for (;;) {
      const auto woken = [&] {
        return stop_.load() || generation_.load() != seen;
      };
      if (!SpinFor(woken)) {
        std::unique_lock<std::mutex> lock(mu_);
        start_.wait(lock, woken);
      }
      if (stop_.load()) return;
      seen = generation_.load();
      TakeTasks(task_, task_ctx_, num_tasks_);
      if (busy_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int32_t> busy_{0};
  std::atomic<int32_t> next_{0};
  kiln_task_fn task_ = nullptr;
  void* task_ctx_ = nullptr;
  int32_t num_tasks_ = 0;
};

// Sets KILN_ISA for the scope (kiln_init reads it), then restores it.
class ScopedIsaEnv {
 public:
  explicit ScopedIsaEnv(const std::string& isa) : active_(!isa.empty()) {
    if (!active_) return;
    const char* old = getenv("KILN_ISA");
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv("KILN_ISA", isa.c_str(), 1);
  }
  ~ScopedIsaEnv() {
    if (!active_) return;
    if (had_old_) {
      setenv("KILN_ISA", old_.c_str(), 1);
    } else {
      unsetenv("KILN_ISA");
    }
  }

 private:
  bool active_;
  bool had_old_ = false;
  std::string old_;
};

double ProcessCpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return 1e6 * static_cast<double>(ts.tv_sec) +
         1e-3 * static_cast<double>(ts.tv_nsec);
}

// Deterministic input items for graph input `index`.
void FillInput(const kiln_tensor_info& info, int32_t index, Block* block) {
  std::mt19937 rng(1234u + static_cast<uint32_t>(index));
  if (info.dtype == KILN_FLOAT32) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* f = reinterpret_cast<float*>(block->data());
    for (size_t i = 0; i < block->size() / sizeof(float); ++i)
      f[i] = normal(rng);
  } else if (info.dtype == KILN_INT32) {
    int32_t* v = reinterpret_cast<int32_t*>(block->data());
    for (size_t i = 0; i < block->size() / sizeof(int32_t); ++i) {
      v[i] = static_cast<int32_t>(rng() % 201) - 100;
    }
  } else {
    for (size_t i = 0; i < block->size(); ++i) {
      block->data()[i] = static_cast<uint8_t>(rng());
    }
  }
}

struct Stats {
  double median = 0, p90 = 0, min = 0, mean = 0;
};

// Nearest-rank percentiles; the median of an even count is the mean of the
// two middle samples.
Stats Summarize(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  const size_t rank =
      static_cast<size_t>(0.9 * static_cast<double>(n) + 0.999999);
  s.p90 = v[std::min(n, std::max<size_t>(rank, 1)) - 1];
  s.min = v.front();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(n);
  return s;
}

std::string Grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Micros(double us) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.3f", us);
  return buf;
}

// One line of numbers: {"samples_us":[...],"cpu_us":[...]}.
void PrintPeerLine(const std::vector<double>& wall,
                   const std::vector<double>& cpu) {
  std::string line = "{\"samples_us\":[";
  for (size_t i = 0; i < wall.size(); ++i) {
    line += (i ? "," : "") + Micros(wall[i]);
  }
  line += "],\"cpu_us\":[";
  for (size_t i = 0; i < cpu.size(); ++i) {
    line += (i ? "," : "") + Micros(cpu[i]);
  }
  line += "]}\n";
  fputs(line.c_str(), stdout);
  fflush(stdout);
}

}  // namespace

int RunBench(const Args& args) {
  BenchArgs opts;
  if (const int code = ParseArgs(args, &opts); code != kExitOk) return code;

  if (!opts.isa.empty()) {
    const uint32_t runnable = kiln_supported_isas();
    if (((runnable >> IsaIndex(opts.isa)) & 1) == 0) {
      return Failure("kernel path '" + opts.isa +
                     "' cannot run on this CPU or is not built in (runnable "
                     "here: " +
                     IsaNames(runnable) + ")");
    }
  }

  std::vector<uint8_t> bytes;
  std::string error;
  if (!ReadFileBytes(opts.model, &bytes, &error)) return Failure(error);
  const AlignedBytes model(bytes);
  ModelDef def;
  if (!ParseModel(model.data(), model.size(), &def, &error)) {
    return Failure(opts.model + ": not a valid Kiln model: " + error);
  }
  const uint64_t macs_per_item = MacsPerItem(def);
  const std::string model_name =
      def.metadata.has_value() ? def.metadata->model_name : "";

  // T contexts, each with an arena for its share of the batch.
  const int32_t threads = opts.threads;
  const size_t share = (opts.batch + threads - 1) / threads;
  size_t arena_bytes = 0;
  kiln_error err;
  memset(&err, 0, sizeof(err));
  if (kiln_arena_size(model.data(), model.size(), share, &arena_bytes, &err) !=
      KILN_OK) {
    return Failure(opts.model + ": " + kiln_status_string(err.code) + ": " +
                   err.message);
  }
  std::vector<Block> arenas;
  std::vector<kiln_context*> contexts(threads, nullptr);
  for (int32_t t = 0; t < threads; ++t) {
    arenas.emplace_back();
    if (!arenas.back().Reset(arena_bytes)) {
      return Failure("cannot allocate " + Grouped(arena_bytes) +
                     " bytes of arena");
    }
  }
  {
    const ScopedIsaEnv isa_env(opts.isa);
    if (kiln_init(model.data(), model.size(), arenas[0].data(), arena_bytes,
                  &contexts[0], &err) != KILN_OK) {
      return Failure(opts.model + ": " + kiln_status_string(err.code) + ": " +
                     err.message);
    }
  }
  for (int32_t t = 1; t < threads; ++t) {
    if (kiln_init_like(contexts[0], arenas[t].data(), arena_bytes, &contexts[t],
                       &err) != KILN_OK) {
      return Failure(std::string("kiln_init_like: ") +
                     kiln_status_string(err.code) + ": " + err.message);
    }
  }
  kiln_context* ctx = contexts[0];
  const char* isa_name = kiln_isa_name(ctx);
  const std::string isa = isa_name != nullptr ? isa_name : "?";

  // Inputs, outputs and decisions for the whole batch.
  const int32_t num_inputs = kiln_num_inputs(ctx);
  const int32_t num_outputs = kiln_num_outputs(ctx);
  std::vector<Block> input_blocks, output_blocks;
  std::vector<const void*> inputs;
  std::vector<void*> outputs;
  std::string input_desc;
  for (int32_t i = 0; i < num_inputs; ++i) {
    kiln_tensor_info info;
    kiln_get_input_info(ctx, i, &info);
    input_blocks.emplace_back(info.item_bytes * opts.batch);
    if (input_blocks.back().data() == nullptr) {
      return Failure("cannot allocate the inputs");
    }
    FillInput(info, i, &input_blocks.back());
    inputs.push_back(input_blocks.back().data());
    static const char* kTypes[] = {"int8", "uint8", "int32", "float32"};
    std::string dims;
    for (int32_t d = 0; d < info.rank; ++d) {
      dims += (d ? "x" : "") + std::to_string(info.dims[d]);
    }
    input_desc += std::string(input_desc.empty() ? "" : ", ") + info.name +
                  " " + kTypes[info.dtype & 3] + "[" + dims + "]";
  }
  for (int32_t j = 0; j < num_outputs; ++j) {
    kiln_tensor_info info;
    kiln_get_output_info(ctx, j, &info);
    output_blocks.emplace_back(info.item_bytes * opts.batch);
    if (output_blocks.back().data() == nullptr) {
      return Failure("cannot allocate the outputs");
    }
    outputs.push_back(output_blocks.back().data());
  }
  std::vector<kiln_decision> decisions(
      opts.batch * static_cast<size_t>(kiln_num_heads(ctx)));

  // A context per item at most: a range without items would only wake a
  // thread for nothing.
  const int32_t active =
      static_cast<int32_t>(std::min<size_t>(threads, opts.batch));
  TaskPool pool(active - 1);
  const auto invoke = [&]() {
    if (active == 1) {
      return kiln_invoke(ctx, opts.batch, inputs.data(), outputs.data(),
                         decisions.data());
    }
    return kiln_invoke_parallel(contexts.data(), active, opts.batch,
                                inputs.data(), outputs.data(), decisions.data(),
                                TaskPool::ParallelFor, &pool);
  };
  for (size_t i = 0; i < opts.warmup; ++i) {
    if (const kiln_status s = invoke(); s != KILN_OK) {
      return Failure(std::string("kiln_invoke: ") + kiln_status_string(s));
    }
  }
  std::vector<double> wall_us, cpu_us;
  wall_us.reserve(opts.reps);
  cpu_us.reserve(opts.reps);
  for (size_t i = 0; i < opts.reps; ++i) {
    const double c0 = ProcessCpuMicros();
    const auto t0 = std::chrono::steady_clock::now();
    const kiln_status s = invoke();
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = ProcessCpuMicros();
    if (s != KILN_OK) {
      return Failure(std::string("kiln_invoke: ") + kiln_status_string(s));
    }
    wall_us.push_back(
        std::chrono::duration<double, std::micro>(t1 - t0).count());
    cpu_us.push_back(c1 - c0);
  }

  const Stats st = Summarize(wall_us);
  const Stats cpu = Summarize(cpu_us);
  const double items_per_s =
      st.median > 0 ? 1e6 * static_cast<double>(opts.batch) / st.median : 0;
  const double gmacs = st.median > 0
                           ? 1e-3 * static_cast<double>(macs_per_item) *
                                 static_cast<double>(opts.batch) / st.median
                           : 0;

  if (opts.json) {
    JsonWriter w(stdout);
    w.BeginObject();
    w.Key("model").String(opts.model);
    w.Key("model_name").String(model_name);
    w.Key("isa").String(isa);
    w.Key("batch").Uint(opts.batch);
    w.Key("threads").Int(threads);
    w.Key("reps").Uint(opts.reps);
    w.Key("warmup").Uint(opts.warmup);
    w.Key("inputs").String(input_desc);
    w.Key("arena_bytes").Uint(arena_bytes);
    w.Key("arena_bytes_total").Uint(arena_bytes * threads);
    w.Key("macs_per_item").Uint(macs_per_item);
    w.Key("median_us").Double(st.median);
    w.Key("p90_us").Double(st.p90);
    w.Key("min_us").Double(st.min);
    w.Key("mean_us").Double(st.mean);
    w.Key("median_cpu_us").Double(cpu.median);
    w.Key("items_per_s").Double(items_per_s);
    w.Key("effective_gmacs").Double(gmacs);
    w.Key("samples_us").BeginArray();
    for (double v : wall_us) w.Double(v);
    w.EndArray();
    w.EndObject();
    return kExitOk;
  }
  FILE* out = opts.peer ? stderr : stdout;
  fprintf(out, "model       %s%s\n", opts.model.c_str(),
          model_name.empty() ? "" : (" (" + model_name + ")").c_str());
  fprintf(out, "inputs      %s\n", input_desc.c_str());
  fprintf(out, "path        %s (runnable here: %s)\n", isa.c_str(),
          IsaNames(kiln_supported_isas()).c_str());
  fprintf(out,
          "calls       %zu item%s each, %d thread%s; %zu timed after %zu "
          "warm-up\n",
          opts.batch, opts.batch == 1 ? "" : "s", threads,
          threads == 1 ? "" : "s", opts.reps, opts.warmup);
  fprintf(out, "arena       %s bytes%s\n", Grouped(arena_bytes).c_str(),
          threads == 1
              ? ""
              : (" per context, " + Grouped(arena_bytes * threads) + " total")
                    .c_str());
  fprintf(out, "latency     median %s us  p90 %s us  min %s us  mean %s us\n",
          Micros(st.median).c_str(), Micros(st.p90).c_str(),
          Micros(st.min).c_str(), Micros(st.mean).c_str());
  fprintf(out, "cpu         median %s us per call (process CPU time)\n",
          Micros(cpu.median).c_str());
  fprintf(out, "throughput  %.1f items/s", items_per_s);
  if (macs_per_item > 0) {
    fprintf(out, ", %.2f GMAC/s (%s MACs per item)", gmacs,
            Grouped(macs_per_item).c_str());
  }
  fputc('\n', out);
  if (opts.peer) PrintPeerLine(wall_us, cpu_us);
  return kExitOk;
}

}  // namespace cli
}  // namespace kiln
