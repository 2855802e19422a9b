#include "bench/latency_gate_measure.h"

#include <time.h>

#include <algorithm>
#include <functional>

#include "bench/latency_gate_reference.h"

namespace kiln {
namespace gate {
namespace {

// Thread CPU time by default: time the thread spent descheduled (the other
// core's compile job taking our core, hypervisor steal) is not counted, so
// a busy machine mostly adds cache and memory interference, which the
// reference loop's interleaved samples see too.
double NowNs(bool wall_clock) {
  timespec ts;
  clock_gettime(wall_clock ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

double WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Sink for the reference loop's results, so the calls are not dropped.
volatile uint64_t g_sink;

// One timed thing: how to run it once and how many runs make a sample.
struct Timed {
  std::function<void()> run;
  int reps = 1;
  std::vector<double> per_call_ns;

  // One sample of `reps` calls; records the time per call.
  void Sample(bool wall_clock) {
    const double t0 = NowNs(wall_clock);
    for (int i = 0; i < reps; ++i) run();
    per_call_ns.push_back((NowNs(wall_clock) - t0) / reps);
  }

  // Warms caches and branch predictors, then sizes a sample to `target_ns`
  // from the fastest of a few single calls.
  void Calibrate(double target_ns, bool wall_clock) {
    for (int i = 0; i < 3; ++i) run();
    double best = 1e18;
    for (int i = 0; i < 5; ++i) {
      const double t0 = NowNs(wall_clock);
      run();
      best = std::min(best, NowNs(wall_clock) - t0);
    }
    reps = std::max(1, int(target_ns / std::max(best, 1.0)));
  }
};

double Quantile(std::vector<double> v, double q) {
  const size_t i = std::min(v.size() - 1, size_t(q * double(v.size())));
  std::nth_element(v.begin(), v.begin() + long(i), v.end());
  return v[i];
}

}  // namespace

RunTiming Measure(const std::vector<Workload*>& workloads,
                  const MeasureOptions& options) {
  const double target_ns = options.sample_ms * 1e6;
  uint64_t seed = 1;
  Timed ref;
  ref.run = [&seed] { g_sink = g_sink + ReferenceLoop(seed++); };
  ref.Calibrate(target_ns, options.wall_clock);
  std::vector<Timed> timed(workloads.size());
  for (size_t i = 0; i < workloads.size(); ++i) {
    Workload* w = workloads[i];
    timed[i].run = [w] { w->Invoke(); };
    timed[i].Calibrate(target_ns, options.wall_clock);
  }

  RunTiming result;
  const double start = WallSeconds();
  while (result.rounds < options.min_rounds ||
         WallSeconds() - start < options.seconds) {
    for (Timed& t : timed) {
      ref.Sample(options.wall_clock);
      t.Sample(options.wall_clock);
    }
    ++result.rounds;
  }

  result.ref_p10_ns = Quantile(ref.per_call_ns, kScoreQuantile);
  for (size_t i = 0; i < workloads.size(); ++i) {
    WorkloadTiming w;
    w.name = workloads[i]->name();
    w.p10_ns = Quantile(timed[i].per_call_ns, kScoreQuantile);
    w.median_ns = Quantile(timed[i].per_call_ns, 0.5);
    w.p90_ns = Quantile(timed[i].per_call_ns, 0.9);
    w.score = w.p10_ns / result.ref_p10_ns;
    result.workloads.push_back(w);
  }
  return result;
}

}  // namespace gate
}  // namespace kiln
