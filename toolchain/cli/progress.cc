#include "toolchain/cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

namespace kiln {
namespace cli {
namespace {

double SteadySeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatRate(double rate) {
  char buf[32];
  if (!std::isfinite(rate) || rate < 0) return "--";
  if (rate >= 1e6) {
    snprintf(buf, sizeof(buf), "%.2fM", rate / 1e6);
  } else if (rate >= 100) {
    snprintf(buf, sizeof(buf), "%.0f", rate);
  } else if (rate >= 10) {
    snprintf(buf, sizeof(buf), "%.1f", rate);
  } else {
    snprintf(buf, sizeof(buf), "%.2f", rate);
  }
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, uint64_t total)
    : ProgressBar(std::move(label), total, Options()) {}

ProgressBar::ProgressBar(std::string label, uint64_t total, Options options)
    : label_(std::move(label)), total_(total), options_(std::move(options)) {
  if (options_.out == nullptr) options_.enabled = false;
  switch (options_.mode) {
    case Mode::kTerminal:
      terminal_ = true;
      break;
    case Mode::kPlain:
      terminal_ = false;
      break;
    case Mode::kAuto:
      terminal_ = options_.out != nullptr && isatty(fileno(options_.out)) == 1;
      break;
  }
  start_ = Now();
  last_print_ = start_;
}

ProgressBar::~ProgressBar() { Finish(); }

double ProgressBar::Now() const {
  return options_.clock ? options_.clock() : SteadySeconds();
}

void ProgressBar::Update(uint64_t done) {
  if (total_ != 0) done = std::min(done, total_);
  done_ = std::max(done_, done);
  if (!options_.enabled || finished_) return;
  const double now = Now();
  if (terminal_) {
    if (!printed_anything_ || now - last_print_ >= options_.redraw_seconds) {
      last_print_ = now;
      Print(false);
    }
    return;
  }
  if (now - last_print_ < options_.plain_seconds) return;
  if (total_ == 0) {
    last_print_ = now;
    Print(false);
    return;
  }
  // Whole steps of plain_step done so far.
  const double step = std::max(options_.plain_step, 1e-6);
  const uint64_t steps = static_cast<uint64_t>(std::floor(
      static_cast<double>(done_) / static_cast<double>(total_) / step + 1e-9));
  if (steps > last_step_ && done_ < total_) {
    last_step_ = steps;
    last_print_ = now;
    Print(false);
  }
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!options_.enabled) return;
  // A plain log stays silent about work too short to have needed a line.
  if (!terminal_ && !printed_anything_ &&
      Now() - start_ < options_.plain_seconds) {
    return;
  }
  Print(true);
}

void ProgressBar::Print(bool final_line) {
  const std::string line =
      FormatLine(label_, done_, total_, Now() - start_, options_.unit);
  if (terminal_) {
    std::string text = "\r" + line;
    if (line.size() < last_width_)
      text += std::string(last_width_ - line.size(), ' ');
    if (final_line) text += "\n";
    fputs(text.c_str(), options_.out);
    last_width_ = std::max(last_width_, line.size());
  } else {
    fprintf(options_.out, "%s\n", line.c_str());
  }
  fflush(options_.out);
  printed_anything_ = true;
}

std::string ProgressBar::FormatLine(const std::string& label, uint64_t done,
                                    uint64_t total, double elapsed_seconds,
                                    const std::string& unit) {
  char buf[64];
  std::string s = label;
  if (!s.empty()) s += "  ";
  s += std::to_string(done);
  if (total != 0) {
    s += "/" + std::to_string(total);
    snprintf(buf, sizeof(buf), "  %.1f%%",
             100.0 * static_cast<double>(done) / static_cast<double>(total));
    s += buf;
  }
  s += "  " +
       FormatRate(elapsed_seconds > 0
                      ? static_cast<double>(done) / elapsed_seconds
                      : -1.0) +
       " " + unit + "/s";
  s += "  elapsed " + FormatDuration(elapsed_seconds);
  if (total != 0 && done < total) {
    s += "  ETA " +
         FormatDuration(EstimateRemaining(done, total, elapsed_seconds));
  }
  return s;
}

std::string ProgressBar::FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "--:--";
  const long long total = std::llround(seconds);
  const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buf[48];
  if (h > 0) {
    snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", h, m, s);
  } else {
    snprintf(buf, sizeof(buf), "%lld:%02lld", m, s);
  }
  return buf;
}

double ProgressBar::EstimateRemaining(uint64_t done, uint64_t total,
                                      double elapsed_seconds) {
  if (total == 0 || done == 0 || !(elapsed_seconds > 0)) return -1.0;
  if (done >= total) return 0.0;
  return static_cast<double>(total - done) * elapsed_seconds /
         static_cast<double>(done);
}

}  // namespace cli
}  // namespace kiln
