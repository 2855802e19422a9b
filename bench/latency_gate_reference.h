// The latency gate's yardstick: a fixed scalar integer loop whose speed
// depends only on the machine (clock, load, neighbours), never on Kiln's
// code. Workload times are divided by its time measured in the same run, so
// the gate compares ratios, which survive a slower or busier machine.
#ifndef KILN_BENCH_LATENCY_GATE_REFERENCE_H_
#define KILN_BENCH_LATENCY_GATE_REFERENCE_H_

#include <stdint.h>

namespace kiln {
namespace gate {

// Runs the reference loop once (about 90 us on the CI machine) and returns
// a value that depends on every step, so the compiler cannot drop it.
uint64_t ReferenceLoop(uint64_t seed);

}  // namespace gate
}  // namespace kiln

#endif  // KILN_BENCH_LATENCY_GATE_REFERENCE_H_
