#include "toolchain/cli/progress.h"

#include <gtest/gtest.h>
#include <math.h>
#include <stdio.h>

#include <string>
#include <vector>

namespace kiln {
namespace cli {
namespace {

// A FILE* to write into and read back, and a clock the test moves.
class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = tmpfile();
    ASSERT_NE(file_, nullptr);
  }
  void TearDown() override {
    if (file_ != nullptr) fclose(file_);
  }
  ProgressBar::Options Opts(ProgressBar::Mode mode) {
    ProgressBar::Options o;
    o.out = file_;
    o.mode = mode;
    o.clock = [this] { return now_; };
    return o;
  }
  std::string Written() {
    fflush(file_);
    std::string s;
    rewind(file_);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), file_)) > 0) s.append(buf, n);
    return s;
  }
  static size_t Count(const std::string& s, char c) {
    size_t n = 0;
    for (char x : s) n += x == c;
    return n;
  }

  FILE* file_ = nullptr;
  double now_ = 1000.0;
};

TEST(ProgressFormat, Durations) {
  EXPECT_EQ(ProgressBar::FormatDuration(0), "0:00");
  EXPECT_EQ(ProgressBar::FormatDuration(7.4), "0:07");
  EXPECT_EQ(ProgressBar::FormatDuration(59.6), "1:00");
  EXPECT_EQ(ProgressBar::FormatDuration(754), "12:34");
  EXPECT_EQ(ProgressBar::FormatDuration(3723), "1:02:03");
  EXPECT_EQ(ProgressBar::FormatDuration(-1), "--:--");
  EXPECT_EQ(ProgressBar::FormatDuration(NAN), "--:--");
  EXPECT_EQ(ProgressBar::FormatDuration(INFINITY), "--:--");
}

TEST(ProgressFormat, EtaIsTheRemainingWorkAtTheAverageRate) {
  EXPECT_DOUBLE_EQ(ProgressBar::EstimateRemaining(25, 100, 10.0), 30.0);
  EXPECT_DOUBLE_EQ(ProgressBar::EstimateRemaining(1, 3, 2.0), 4.0);
  EXPECT_DOUBLE_EQ(ProgressBar::EstimateRemaining(100, 100, 10.0), 0.0);
  EXPECT_LT(ProgressBar::EstimateRemaining(0, 100, 10.0), 0.0);
  EXPECT_LT(ProgressBar::EstimateRemaining(5, 0, 10.0), 0.0);  // unknown total
  EXPECT_LT(ProgressBar::EstimateRemaining(5, 100, 0.0), 0.0);
}

TEST(ProgressFormat, Line) {
  EXPECT_EQ(ProgressBar::FormatLine("eval", 25, 100, 10.0, "items"),
            "eval  25/100  25.0%  2.50 items/s  elapsed 0:10  ETA 0:30");
  EXPECT_EQ(ProgressBar::FormatLine("eval", 5000, 5000, 4.0, "items"),
            "eval  5000/5000  100.0%  1250 items/s  elapsed 0:04");
  EXPECT_EQ(ProgressBar::FormatLine("x", 0, 10, 0.0, "calls"),
            "x  0/10  0.0%  -- calls/s  elapsed 0:00  ETA --:--");
  // Unknown total: no percent, no ETA.
  EXPECT_EQ(ProgressBar::FormatLine("scan", 300, 0, 20.0, "files"),
            "scan  300  15.0 files/s  elapsed 0:20");
}

TEST_F(ProgressTest, TerminalRedrawsOneLineAndThrottles) {
  {
    ProgressBar bar("eval", 1000, Opts(ProgressBar::Mode::kTerminal));
    EXPECT_TRUE(bar.terminal());
    bar.Update(100);  // first update: drawn at once
    now_ += 0.05;
    bar.Update(200);  // within 0.1 s: not drawn
    now_ += 0.10;
    bar.Update(300);
    EXPECT_EQ(Count(Written(), '\n'), 0u);
    bar.Finish();
    bar.Finish();  // idempotent
  }
  const std::string out = Written();
  EXPECT_EQ(Count(out, '\r'), 3u) << out;  // 100, 300, final
  EXPECT_EQ(Count(out, '\n'), 1u) << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_NE(out.find("\reval  100/1000  10.0%"), std::string::npos) << out;
  EXPECT_EQ(out.find("200/1000"), std::string::npos) << out;
  EXPECT_NE(out.find("\reval  300/1000  30.0%"), std::string::npos) << out;
  // The final line still shows 300 (nothing more was done) and its ETA.
  const size_t last = out.rfind('\r');
  EXPECT_NE(out.find("300/1000", last), std::string::npos) << out;
  EXPECT_NE(out.find("ETA", last), std::string::npos) << out;
}

TEST_F(ProgressTest, TerminalPadsAShorterLine) {
  {
    ProgressBar bar("eval", 100000, Opts(ProgressBar::Mode::kTerminal));
    now_ += 1e-6;
    bar.Update(1);  // a fast start: long rate and an ETA
    now_ += 3600;
    bar.Update(100000);  // no ETA: a shorter text
  }
  const std::string out = Written();
  ASSERT_EQ(out.back(), '\n');
  std::vector<std::string> lines;
  for (size_t at = out.find('\r'); at != std::string::npos;) {
    const size_t next = out.find('\r', at + 1);
    lines.push_back(out.substr(at + 1, next == std::string::npos
                                           ? out.size() - at - 2
                                           : next - at - 1));
    at = next;
  }
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_NE(lines[0].find("ETA"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].find("ETA"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("100000/100000  100.0%"), std::string::npos);
  // Each redraw covers the previous text completely.
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_GE(lines[i].size(), lines[i - 1].size()) << out;
  }
}

TEST_F(ProgressTest, PlainLinesEveryTenPercentAtMostEveryFiveSeconds) {
  {
    ProgressBar bar("eval", 100, Opts(ProgressBar::Mode::kPlain));
    EXPECT_FALSE(bar.terminal());
    // One item per second: a line at 10, 20, ..., 90 done.
    for (int d = 1; d <= 100; ++d) {
      now_ += 1.0;
      bar.Update(d);
    }
  }  // the destructor prints the final line
  const std::string out = Written();
  EXPECT_EQ(Count(out, '\r'), 0u);
  EXPECT_EQ(Count(out, '\n'), 10u) << out;
  for (int d = 10; d <= 90; d += 10) {
    EXPECT_NE(out.find("eval  " + std::to_string(d) + "/100  "),
              std::string::npos)
        << d << "\n"
        << out;
  }
  EXPECT_NE(out.find("eval  100/100  100.0%  1.00 items/s  elapsed 1:40\n"),
            std::string::npos)
      << out;
}

TEST_F(ProgressTest, PlainLinesAreThrottledByTime) {
  {
    ProgressBar bar("eval", 100, Opts(ProgressBar::Mode::kPlain));
    // Eight items per second: 10% steps faster than lines every 5 s.
    for (int d = 1; d <= 100; ++d) {
      now_ += 0.125;
      bar.Update(d);
    }
    bar.Finish();
  }
  const std::string out = Written();
  // At 5 s (40 done), 10 s (80 done), then the final line at 12.5 s.
  EXPECT_EQ(Count(out, '\n'), 3u) << out;
  EXPECT_NE(out.find("eval  40/100  40.0%"), std::string::npos) << out;
  EXPECT_NE(out.find("eval  80/100  80.0%"), std::string::npos) << out;
  EXPECT_NE(out.find("eval  100/100"), std::string::npos) << out;
}

TEST_F(ProgressTest, ShortPlainWorkPrintsNothing) {
  {
    ProgressBar bar("eval", 100, Opts(ProgressBar::Mode::kPlain));
    for (int d = 1; d <= 100; ++d) {
      now_ += 0.01;
      bar.Update(d);
    }
  }
  EXPECT_EQ(Written(), "");
}

TEST_F(ProgressTest, QuietPrintsNothing) {
  for (ProgressBar::Mode mode :
       {ProgressBar::Mode::kTerminal, ProgressBar::Mode::kPlain}) {
    ProgressBar::Options o = Opts(mode);
    o.enabled = false;
    ProgressBar bar("eval", 10, o);
    for (int d = 1; d <= 10; ++d) {
      now_ += 10.0;
      bar.Update(d);
    }
    bar.Finish();
    EXPECT_EQ(bar.done(), 10u);
  }
  EXPECT_EQ(Written(), "");
}

TEST_F(ProgressTest, DoneIsClampedAndNeverGoesBack) {
  ProgressBar::Options o = Opts(ProgressBar::Mode::kPlain);
  o.enabled = false;
  ProgressBar bar("eval", 10, o);
  bar.Update(7);
  bar.Update(3);
  EXPECT_EQ(bar.done(), 7u);
  bar.Advance(2);
  EXPECT_EQ(bar.done(), 9u);
  bar.Update(50);
  EXPECT_EQ(bar.done(), 10u);
}

TEST_F(ProgressTest, AutoModeOnAFileIsPlain) {
  ProgressBar::Options o;
  o.out = file_;
  ProgressBar bar("eval", 10, o);
  EXPECT_FALSE(bar.terminal());
}

}  // namespace
}  // namespace cli
}  // namespace kiln
