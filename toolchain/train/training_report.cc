// The trainer's LibTorch-free parts: split preparation, the metrics JSON and
// the training-curve SVG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "toolchain/atomic_file.h"
#include "toolchain/data/split_manifest.h"
#include "toolchain/train/trainer.h"

namespace kiln {
namespace train {

bool PrepareSplits(const TrainParams& params, const data::Dataset& dataset,
                   std::vector<data::Split>* splits, std::string* error) {
  const data::SplitOptions& options = params.split;
  data::SplitManifest manifest;
  if (!params.split.manifest.empty() &&
      !data::LoadSplitManifest(params.split.manifest, &manifest, error)) {
    return false;
  }
  if (!data::AssignSplits(dataset, options, &manifest, splits, nullptr,
                          error)) {
    return false;
  }
  if (!params.split.manifest.empty() &&
      !data::SaveSplitManifest(params.split.manifest, manifest, error)) {
    return false;
  }
  return true;
}

namespace {

nlohmann::json Number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

bool WriteText(const std::string& path, const std::string& text,
               std::string* error) {
  return WriteFileAtomic(path, std::vector<uint8_t>(text.begin(), text.end()),
                         error);
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

}  // namespace

std::string MetricsJson(const TrainMetrics& m) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochMetrics& e : m.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", Number(e.train_loss)},
                      {"valid_loss", Number(e.valid_loss)},
                      {"valid_accuracy", Number(e.valid_accuracy)},
                      {"lr", Number(e.lr)},
                      {"seconds", Number(e.seconds)}});
  }
  nlohmann::json j = {
      {"epochs", epochs},
      {"best_epoch", m.best_epoch},
      {"best_valid_accuracy", Number(m.best_valid_accuracy)},
      {"stopped_early", m.stopped_early},
      {"stopped_by_hook", m.stopped_by_hook},
      {"teacher_valid_accuracy", Number(m.teacher_valid_accuracy)},
      {"teacher_seconds", Number(m.teacher_seconds)},
      {"seconds", Number(m.seconds)},
      {"train_samples", m.train_samples},
      {"valid_samples", m.valid_samples}};
  return j.dump(2) + "\n";
}

bool WriteMetricsJson(const std::string& path, const TrainMetrics& metrics,
                      std::string* error) {
  return WriteText(path, MetricsJson(metrics), error);
}

std::string TrainingCurveSvg(const TrainMetrics& m) {
  const double W = 640, H = 400, left = 60, right = 60, top = 40, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  size_t n = m.epochs.size();
  double max_loss = 0;
  for (const EpochMetrics& e : m.epochs) {
    if (std::isfinite(e.train_loss))
      max_loss = std::max(max_loss, e.train_loss);
    if (std::isfinite(e.valid_loss))
      max_loss = std::max(max_loss, e.valid_loss);
  }
  if (max_loss <= 0) max_loss = 1;
  max_loss *= 1.05;
  auto px = [&](double epoch) {
    return left + (n > 1 ? (epoch - 1) / static_cast<double>(n - 1) : 0.5) * pw;
  };
  auto py = [&](double v, double vmax) { return top + ph * (1 - v / vmax); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W
    << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << W / 2
    << "\" y=\"22\" text-anchor=\"middle\" "
       "font-size=\"15\">Training curve</text>\n";
  // Axes and grid.
  s << "<g stroke=\"#000\" fill=\"none\"><path d=\"M" << left << " " << top
    << " V" << top + ph << " H" << left + pw << " V" << top << "\"/></g>\n";
  for (int i = 0; i <= 4; ++i) {
    double y = top + ph * i / 4.0;
    s << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << y
      << "\" y2=\"" << y << "\" stroke=\"#ddd\"/>\n";
    s << "<text x=\"" << left - 6 << "\" y=\"" << y + 4
      << "\" text-anchor=\"end\">" << Fmt("%.3g", max_loss * (4 - i) / 4.0)
      << "</text>\n";
    s << "<text x=\"" << left + pw + 6 << "\" y=\"" << y + 4 << "\">"
      << Fmt("%.0f%%", 100.0 * (4 - i) / 4.0) << "</text>\n";
  }
  size_t label_step = std::max<size_t>(1, n / 10);
  for (size_t i = 0; i < n; i += label_step) {
    s << "<text x=\"" << px(static_cast<double>(i + 1)) << "\" y=\""
      << top + ph + 18 << "\" text-anchor=\"middle\">" << i + 1 << "</text>\n";
  }
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 10
    << "\" text-anchor=\"middle\">epoch</text>\n";
  s << "<text transform=\"translate(16 " << top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\">loss</text>\n";
  s << "<text transform=\"translate(" << W - 14 << " " << top + ph / 2
    << ") rotate(90)\" text-anchor=\"middle\">valid accuracy</text>\n";
  auto polyline = [&](const char* color, auto value, double vmax) {
    s << "<polyline fill=\"none\" stroke=\"" << color
      << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < n; ++i) {
      double v = value(m.epochs[i]);
      if (!std::isfinite(v)) continue;
      s << Fmt("%.1f", px(static_cast<double>(i + 1))) << ","
        << Fmt("%.1f", py(v, vmax)) << " ";
    }
    s << "\"/>\n";
  };
  polyline(
      "#1f77b4", [](const EpochMetrics& e) { return e.train_loss; }, max_loss);
  polyline(
      "#ff7f0e", [](const EpochMetrics& e) { return e.valid_loss; }, max_loss);
  polyline(
      "#2ca02c", [](const EpochMetrics& e) { return e.valid_accuracy; }, 1.0);
  // Legend.
  const char* names[] = {"train loss", "valid loss", "valid accuracy"};
  const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
  for (int i = 0; i < 3; ++i) {
    double x = left + 10 + i * 150;
    s << "<line x1=\"" << x << "\" x2=\"" << x + 20 << "\" y1=\"" << top + 12
      << "\" y2=\"" << top + 12 << "\" stroke=\"" << colors[i]
      << "\" stroke-width=\"2\"/><text x=\"" << x + 25 << "\" y=\"" << top + 16
      << "\">" << names[i] << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

bool WriteTrainingCurveSvg(const std::string& path, const TrainMetrics& metrics,
                           std::string* error) {
  return WriteText(path, TrainingCurveSvg(metrics), error);
}

}  // namespace train
}  // namespace kiln
