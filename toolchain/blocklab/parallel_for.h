// Running independent per-block work on a few threads. Items are handed out
// one at a time from a shared counter (a block is thousands of bit
// estimates, so the counter costs nothing) and every item writes only its
// own slot, so results never depend on the thread count or the scheduling.
#ifndef KILN_TOOLCHAIN_BLOCKLAB_PARALLEL_FOR_H_
#define KILN_TOOLCHAIN_BLOCKLAB_PARALLEL_FOR_H_

#include <stddef.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace kiln {
namespace blocklab {

// Runs fn(i) for every i in [0, n) on up to `threads` threads (the calling
// thread included; if a thread cannot be started, the rest run here).
template <typename Fn>
void ParallelFor(size_t n, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  const size_t wanted = std::max<size_t>(
      1, std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), n));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < wanted; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::exception&) {
      break;
    }
  }
  work();
  for (std::thread& t : pool) t.join();
}

}  // namespace blocklab
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_BLOCKLAB_PARALLEL_FOR_H_
