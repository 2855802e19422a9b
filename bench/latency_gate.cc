// Latency regression gate (docs/reliability.md). Times a few models
// through the public runtime API on the default (fastest) kernel path,
// interleaved with a fixed reference loop, and compares each workload's
// score = p10(workload) / p10(reference) (10th percentiles of many short
// samples, bench/latency_gate_measure.h) with the committed baseline for
// this kernel path:
//
//   kiln_latency_gate [--baseline FILE] [--tolerance T] [--seconds S]
//                     [--retries N] [--write-baseline [--passes N]]
//                     [--slow-kernel KIND:FACTOR] [--wall-clock]
//                     [--source-dir DIR]
//
// Exit status: 0 every workload within baseline x (1 + T), or no baseline for
// this path (a note, "SKIP"); 1 a regression; 2 a usage or load error.
// When a workload is over the limit, all are measured again (--retries,
// default 2) and a workload fails only if every attempt is over: a real
// regression is over the limit every time, a burst of load (a link step on
// the other vCPU) seldom lasts through three 8-second attempts.
// --slow-kernel is for testing the gate itself (bench/latency_gate_slow.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/latency_gate_baseline.h"
#include "bench/latency_gate_measure.h"
#include "bench/latency_gate_slow.h"
#include "bench/latency_gate_workloads.h"
#include "kiln/kiln.h"

namespace kiln {
namespace gate {
namespace {

// Chosen from the spread measured on the 2-vCPU CI machine
// (docs/reliability.md): against a baseline written on the quiet
// machine, an unchanged build read within +2.5% with a -j2 compile on the
// other vCPU and up to +11% with heavier neighbours (a test binary at 100%,
// load 8-10), while a build whose mlp160 is 21% slower read +21% every time.
// 15% lies between the two; the retries absorb a rare noisier attempt.
constexpr double kDefaultTolerance = 0.15;

struct Options {
  std::string source_dir = KILN_SOURCE_DIR;
  std::string baseline;
  double tolerance = kDefaultTolerance;
  int retries = 2;
  int passes = 0;  // 0: 1 when checking, 3 when writing the baseline
  bool write_baseline = false;
  std::string slow_kernel;
  MeasureOptions measure;
};

[[noreturn]] void Usage(const char* why) {
  fprintf(stderr,
          "kiln_latency_gate: %s\n"
          "usage: kiln_latency_gate [--baseline FILE] [--tolerance T] "
          "[--seconds S] [--retries N] [--write-baseline [--passes N]] "
          "[--slow-kernel KIND:FACTOR] [--wall-clock] [--source-dir DIR]\n",
          why);
  exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--baseline") {
      o.baseline = value();
    } else if (a == "--tolerance") {
      o.tolerance = atof(value().c_str());
      if (!(o.tolerance > 0 && o.tolerance < 1)) Usage("bad --tolerance");
    } else if (a == "--seconds") {
      o.measure.seconds = atof(value().c_str());
      if (!(o.measure.seconds > 0)) Usage("bad --seconds");
    } else if (a == "--retries") {
      o.retries = atoi(value().c_str());
      if (o.retries < 0) Usage("bad --retries");
    } else if (a == "--passes") {
      o.passes = atoi(value().c_str());
      if (o.passes < 1) Usage("bad --passes");
    } else if (a == "--write-baseline") {
      o.write_baseline = true;
    } else if (a == "--slow-kernel") {
      o.slow_kernel = value();
    } else if (a == "--wall-clock") {
      o.measure.wall_clock = true;
    } else if (a == "--source-dir") {
      o.source_dir = value();
    } else {
      Usage(("unknown argument " + a).c_str());
    }
  }
  if (o.baseline.empty()) {
    o.baseline = o.source_dir + "/bench/latency_baseline.txt";
  }
  if (o.passes == 0) o.passes = o.write_baseline ? 3 : 1;
  if (o.write_baseline && !o.slow_kernel.empty()) {
    Usage("--write-baseline with --slow-kernel would record a slowdown");
  }
  return o;
}

// The CPU model as the OS names it ("model name" on x86; implementer and
// part on AArch64), recorded next to the baseline: scores from another
// microarchitecture are not comparable.
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, implementer, part;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (key == "model name" && !value.empty()) return value;
    if (key == "CPU implementer" && implementer.empty()) implementer = value;
    if (key == "CPU part" && part.empty()) part = value;
  }
  if (!implementer.empty())
    return "implementer " + implementer + " part " + part;
  return "unknown";
}

void PrintRun(const RunTiming& run, const std::string& path,
              const std::vector<BaselineEntry>& baseline, double tolerance) {
  printf("latency_gate: %d rounds, reference loop p10 %.1f us per call\n",
         run.rounds, run.ref_p10_ns / 1e3);
  printf("  %-18s %10s %10s %10s %10s %10s %7s %7s\n", "workload", "p10 us",
         "median us", "p90 us", "score", "baseline", "ratio", "limit");
  for (const WorkloadTiming& w : run.workloads) {
    const BaselineEntry* b = FindBaseline(baseline, path, w.name);
    printf("  %-18s %10.2f %10.2f %10.2f %10.5f", w.name.c_str(),
           w.p10_ns / 1e3, w.median_ns / 1e3, w.p90_ns / 1e3, w.score);
    if (b != nullptr) {
      printf(" %10.5f %7.3f %7.3f\n", b->score, w.score / b->score,
             1 + tolerance);
    } else {
      printf(" %10s %7s %7s\n", "-", "-", "-");
    }
  }
  fflush(stdout);
}

// `passes` measurements, each printed, and the lowest score per workload:
// load from neighbours only ever inflates a score, so the lowest is the
// closest to the quiet machine (the same rule as the retries).
RunTiming MeasurePasses(const std::vector<Workload*>& workloads,
                        const Options& o, const std::string& path,
                        const std::vector<BaselineEntry>& baseline) {
  RunTiming best;
  for (int p = 0; p < o.passes; ++p) {
    const RunTiming run = Measure(workloads, o.measure);
    PrintRun(run, path, baseline, o.tolerance);
    if (p == 0) {
      best = run;
      continue;
    }
    for (size_t w = 0; w < best.workloads.size(); ++w) {
      if (run.workloads[w].score < best.workloads[w].score) {
        best.workloads[w] = run.workloads[w];
      }
    }
  }
  return best;
}

int WriteBaselineFile(const Options& o, const std::string& path,
                      const std::string& cpu, const RunTiming& run,
                      const std::vector<BaselineEntry>& old_entries) {
  std::vector<BaselineEntry> fresh;
  for (const WorkloadTiming& w : run.workloads) {
    fresh.push_back({path, w.name, w.score, cpu});
  }
  std::string error;
  if (!WriteBaseline(o.baseline, old_entries, fresh, &error)) {
    fprintf(stderr, "latency_gate: %s\n", error.c_str());
    return 2;
  }
  printf("latency_gate: wrote %zu entries for path %s to %s\n", fresh.size(),
         path.c_str(), o.baseline.c_str());
  return 0;
}

int Main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  std::string error;
  std::vector<std::unique_ptr<Workload>> owned;
  if (!LoadGateWorkloads(o.source_dir, &owned, &error)) {
    fprintf(stderr, "latency_gate: %s\n", error.c_str());
    return 2;
  }
  std::vector<Workload*> workloads;
  for (const auto& w : owned) workloads.push_back(w.get());
  const std::string path = kiln_isa_name(workloads[0]->ctx());
  const std::string cpu = CpuModel();
  printf("latency_gate: kernel path %s, cpu \"%s\"\n", path.c_str(),
         cpu.c_str());

  if (!o.slow_kernel.empty()) {
    std::string kind;
    double factor = 0;
    if (!ParseSlowKernelSpec(o.slow_kernel, &kind, &factor, &error)) {
      Usage(error.c_str());
    }
    for (Workload* w : workloads) {
      if (!SlowDownKernels(w->ctx(), kind, factor, &error))
        Usage(error.c_str());
    }
    printf("latency_gate: TEST MODE: %s kernels made %.2fx slower\n",
           kind.c_str(), factor);
  }

  std::vector<BaselineEntry> baseline;
  if (!ReadBaseline(o.baseline, &baseline, &error)) {
    fprintf(stderr, "latency_gate: %s\n", error.c_str());
    return 2;
  }

  if (o.write_baseline) {
    const RunTiming run = MeasurePasses(workloads, o, path, {});
    return WriteBaselineFile(o, path, cpu, run, baseline);
  }
  RunTiming run = MeasurePasses(workloads, o, path, baseline);

  // Per workload: the best score over the attempts made so far.
  std::vector<double> best(run.workloads.size());
  for (size_t i = 0; i < best.size(); ++i) best[i] = run.workloads[i].score;
  int checked = 0;
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> over;
    checked = 0;
    for (size_t i = 0; i < best.size(); ++i) {
      const BaselineEntry* b =
          FindBaseline(baseline, path, run.workloads[i].name);
      if (b == nullptr) continue;
      ++checked;
      if (attempt == 0 && b->cpu != cpu) {
        printf("latency_gate: note: %s's baseline was recorded on \"%s\"\n",
               b->workload.c_str(), b->cpu.c_str());
      }
      if (best[i] > b->score * (1 + o.tolerance)) {
        char line[256];
        snprintf(line, sizeof(line),
                 "%s score %.5f is %.3fx its baseline %.5f (limit %.3fx)",
                 b->workload.c_str(), best[i], best[i] / b->score, b->score,
                 1 + o.tolerance);
        over.push_back(line);
      }
    }
    if (checked == 0) {
      printf(
          "latency_gate: SKIP: %s has no entry for kernel path %s; record "
          "one on an idle machine with scripts/check_latency.sh "
          "--write-baseline\n",
          o.baseline.c_str(), path.c_str());
      return 0;
    }
    if (over.empty()) break;
    if (attempt >= o.retries) {
      for (const std::string& line : over) {
        printf("latency_gate: FAIL: %s\n", line.c_str());
      }
      printf(
          "latency_gate: FAIL: %zu of %d workloads slower than baseline "
          "x %.2f in %d attempts\n",
          over.size(), checked, 1 + o.tolerance, attempt + 1);
      return 1;
    }
    printf(
        "latency_gate: %zu workload(s) over the limit; measuring again "
        "(attempt %d of %d)\n",
        over.size(), attempt + 2, o.retries + 1);
    run = MeasurePasses(workloads, o, path, baseline);
    for (size_t i = 0; i < best.size(); ++i) {
      best[i] = std::min(best[i], run.workloads[i].score);
    }
  }
  printf("latency_gate: PASS: %d workloads within baseline x %.2f\n", checked,
         1 + o.tolerance);
  return 0;
}

}  // namespace
}  // namespace gate
}  // namespace kiln

int main(int argc, char** argv) { return kiln::gate::Main(argc, argv); }
