// The latency gate's measurement: the reference loop and the workloads,
// interleaved (ref, w1, ref, w2, ..., repeated for many short rounds) so
// that frequency drift and neighbours hit both alike, then a low quantile of
// each one's samples.
#ifndef KILN_BENCH_LATENCY_GATE_MEASURE_H_
#define KILN_BENCH_LATENCY_GATE_MEASURE_H_

#include <string>
#include <vector>

#include "bench/latency_gate_workloads.h"

namespace kiln {
namespace gate {

// The quantile of the samples a score is made of: the 10th percentile, not
// the median. On the 2-vCPU CI machine a compile on the other vCPU makes
// samples bimodal (vCPUs sharing a physical core's caches and ports): when
// more than half of them land in the slow mode, the median jumps by 30% while
// the 10th percentile moves by a few percent. A regression in Kiln's code
// moves every sample, so the 10th percentile shows it just the same.
constexpr double kScoreQuantile = 0.1;

struct MeasureOptions {
  double seconds = 8;       // wall time of the rounds (after calibration)
  double sample_ms = 2;     // target length of one timed sample
  int min_rounds = 40;      // at least this many, however slow the machine
  bool wall_clock = false;  // time wall clock instead of thread CPU time
};

struct WorkloadTiming {
  std::string name;
  double p10_ns = 0;  // per invoke (kScoreQuantile)
  double median_ns = 0;
  double p90_ns = 0;
  double score = 0;  // p10_ns / the reference loop's p10_ns
};

struct RunTiming {
  double ref_p10_ns = 0;  // per reference loop call (kScoreQuantile)
  int rounds = 0;
  std::vector<WorkloadTiming> workloads;
};

// Times `workloads` against the reference loop.
RunTiming Measure(const std::vector<Workload*>& workloads,
                  const MeasureOptions& options);

}  // namespace gate
}  // namespace kiln

#endif  // KILN_BENCH_LATENCY_GATE_MEASURE_H_
