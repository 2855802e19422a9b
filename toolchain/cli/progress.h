// A progress line for long CLI work (evaluation passes, reviews), written to
// stderr so that stdout stays clean for results and --json.
//
//   ProgressBar bar("evaluating", total);          // stderr, real clock
//   for (...) bar.Update(done);                    // cheap; throttled
//   bar.Finish();                                  // final line
//
// On a terminal the line is redrawn in place with '\r' (at most every
// 0.1 s); elsewhere (logs, CI) a plain line is printed when another 10% of
// the work is done, at most one every 5 s, and once at the end. A line reads
//
//   evaluating  1200/5000  24.0%  600 items/s  elapsed 0:02  ETA 0:06
//
// where ETA = (total - done) / (done / elapsed). A disabled bar (--quiet)
// prints nothing. The output stream, terminal detection and clock can be
// injected for tests.
#ifndef KILN_TOOLCHAIN_CLI_PROGRESS_H_
#define KILN_TOOLCHAIN_CLI_PROGRESS_H_

#include <stdint.h>
#include <stdio.h>

#include <functional>
#include <string>

namespace kiln {
namespace cli {

class ProgressBar {
 public:
  enum class Mode { kAuto, kTerminal, kPlain };

  struct Options {
    FILE* out = stderr;
    bool enabled = true;      // false: print nothing (--quiet)
    Mode mode = Mode::kAuto;  // kAuto: kTerminal when `out` is a TTY
    // Monotonic seconds; default std::chrono::steady_clock.
    std::function<double()> clock;
    std::string unit = "items";   // for the rate: "600 items/s"
    double redraw_seconds = 0.1;  // terminal: minimum time between redraws
    double plain_seconds = 5.0;   // plain: minimum time between lines
    double plain_step = 0.10;     // plain: fraction of the work per line
  };

  ProgressBar(std::string label, uint64_t total);
  ProgressBar(std::string label, uint64_t total, Options options);
  // Finishes the line if Finish() was not called.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `done` units of `total` are complete (clamped to total; may not go
  // backwards). Prints when the throttling rules above allow.
  void Update(uint64_t done);
  void Advance(uint64_t n = 1) { Update(done_ + n); }
  // Prints the final state (done as it is) and ends the line. Idempotent.
  void Finish();

  bool terminal() const { return terminal_; }
  uint64_t done() const { return done_; }

  // The text of one line (no '\r' or '\n'): label, done/total, percent,
  // rate, elapsed and, while done < total, the ETA. total == 0 means
  // unknown: no percent and no ETA.
  static std::string FormatLine(const std::string& label, uint64_t done,
                                uint64_t total, double elapsed_seconds,
                                const std::string& unit);
  // "0:07", "12:34", "1:02:03"; "--:--" for a negative or non-finite value.
  static std::string FormatDuration(double seconds);
  // Seconds left at the current average rate; negative when unknown (no
  // progress yet, or unknown total).
  static double EstimateRemaining(uint64_t done, uint64_t total,
                                  double elapsed_seconds);

 private:
  void Print(bool final_line);
  double Now() const;

  std::string label_;
  uint64_t total_;
  Options options_;
  bool terminal_ = false;
  bool finished_ = false;
  double start_ = 0.0;
  double last_print_ = 0.0;
  uint64_t done_ = 0;
  uint64_t last_step_ = 0;  // plain: the 10% step last printed
  size_t last_width_ = 0;   // terminal: columns drawn so far
  bool printed_anything_ = false;
};

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_PROGRESS_H_
