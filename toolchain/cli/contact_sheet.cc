#include "toolchain/cli/contact_sheet.h"

#include <stb/stb_image_write.h>
#include <stdio.h>

#include <algorithm>
#include <exception>

#include "toolchain/atomic_file.h"

namespace kiln {
namespace cli {
namespace {

// Enough digits to tell confidences near a threshold apart.
std::string Number(double v) {
  char text[32];
  snprintf(text, sizeof(text), "%.4g", v);
  return text;
}

// stb_image_write's output callback. It is called from C, so nothing may
// be thrown through it: a failed allocation is recorded instead.
struct PngSink {
  std::vector<uint8_t>* out;
  bool failed = false;
};

void AppendPng(void* context, void* data, int size) {
  PngSink* sink = static_cast<PngSink*>(context);
  if (sink->failed || size <= 0) return;
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  try {
    sink->out->insert(sink->out->end(), bytes, bytes + size);
  } catch (...) {
    sink->failed = true;
  }
}

const char kStyle[] =
    "body{font-family:system-ui,sans-serif;margin:16px;color:#222;"
    "background:#fafafa}\n"
    "h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:24px 0 4px}\n"
    "dl.facts{display:grid;grid-template-columns:max-content auto;"
    "gap:2px 12px;margin:0 0 8px;font-size:13px}\n"
    "dl.facts dt{font-weight:600}dl.facts dd{margin:0}\n"
    "p{font-size:13px;margin:4px 0}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}\n"
    ".card{background:#fff;border:3px solid #999;border-radius:4px;"
    "padding:6px;width:200px;font-size:12px;line-height:1.35;"
    "overflow-wrap:anywhere}\n"
    ".card img{display:block;margin:0 auto 4px;image-rendering:pixelated;"
    "background:#000}\n"
    ".card.misclassified{border-color:#c62828}\n"
    ".card.both{border-color:#ef6c00}\n"
    ".card.fallback{border-color:#1565c0}\n"
    ".card ol{margin:2px 0;padding-left:20px}\n"
    ".card li.right{font-weight:700;color:#2e7d32}\n"
    ".card code{font-size:11px}\n"
    ".origin{color:#666}\n"
    ".reason{font-weight:600}\n"
    ".misclassified .reason{color:#c62828}.both .reason{color:#ef6c00}"
    ".fallback .reason{color:#1565c0}\n";

const char* ReasonText(ReviewReason reason) {
  switch (reason) {
    case ReviewReason::kMisclassified:
      return "misclassified, accepted";
    case ReviewReason::kBoth:
      return "fallback, misclassified";
    case ReviewReason::kFallback:
      return "fallback, top-1 right";
  }
  return "?";
}

bool AppendCard(const ContactSheet& sheet, const SheetCard& card,
                int32_t pixel_max, std::string* html, std::string* error) {
  const data::Dataset* d = sheet.dataset;
  std::string& out = *html;
  out += "<div class=\"card ";
  out += ReviewReasonName(card.reason);
  out += "\" data-index=\"" + std::to_string(card.index) + "\" data-hash=\"" +
         HtmlEscape(card.hash) + "\">\n";
  if (d != nullptr && IsImageDataset(*d)) {
    if (card.index >= d->size()) {
      *error = "card for sample " + std::to_string(card.index) +
               " but the dataset has " + std::to_string(d->size());
      return false;
    }
    std::vector<uint8_t> png;
    int32_t h = 0, w = 0;
    if (!ThumbnailPng(*d, card.index, sheet.thumbnail_px, pixel_max, &png, &h,
                      &w, error)) {
      return false;
    }
    out += "<img src=\"data:image/png;base64," +
           Base64(png.data(), png.size()) + "\" width=\"" + std::to_string(w) +
           "\" height=\"" + std::to_string(h) + "\" alt=\"sample " +
           std::to_string(card.index) + "\">\n";
  }
  out += "<div><b>#" + std::to_string(card.index) + "</b> <code title=\"" +
         HtmlEscape(card.hash) + "\">" + HtmlEscape(card.hash.substr(0, 12)) +
         "</code></div>\n";
  if (!card.origin.empty()) {
    out += "<div class=\"origin\">" + HtmlEscape(card.origin) + "</div>\n";
  }
  out += "<div>true: <b>" + HtmlEscape(card.true_label) + "</b></div>\n";
  out += "<div>predicted:</div><ol>";
  for (const SheetCandidate& c : card.predicted) {
    out += c.label == card.true_label ? "<li class=\"right\">" : "<li>";
    out += HtmlEscape(c.label) + " <small>(logit " + Number(c.logit) +
           ")</small></li>";
  }
  out += "</ol>\n";
  out += "<div>confidence " + Number(card.confidence) + "</div>\n";
  out += "<div>fallback: ";
  out += card.reason == ReviewReason::kMisclassified ? "no" : "yes";
  out += "</div>\n<div class=\"reason\">";
  out += ReasonText(card.reason);
  out += "</div>\n</div>\n";
  return true;
}

bool SheetHtml(const ContactSheet& sheet, std::string* html,
               std::string* error) {
  const int32_t pixel_max =
      sheet.dataset != nullptr && IsImageDataset(*sheet.dataset)
          ? DatasetPixelMax(*sheet.dataset)
          : 255;
  std::string out;
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>" +
      HtmlEscape(sheet.title) + "</title>\n<style>\n" + kStyle +
      "</style>\n</head>\n<body>\n<h1>" + HtmlEscape(sheet.title) + "</h1>\n";
  if (!sheet.facts.empty()) {
    out += "<dl class=\"facts\">\n";
    for (const auto& [key, value] : sheet.facts) {
      out += "<dt>" + HtmlEscape(key) + "</dt><dd>" + HtmlEscape(value) +
             "</dd>\n";
    }
    out += "</dl>\n";
  }
  out +=
      "<p>Red: misclassified but accepted by the decision layer (the "
      "dangerous ones, first). Orange: sent to fallback and misclassified. "
      "Blue: sent to fallback although the top-1 is right. To fix a label, "
      "fill in the <code>label</code> column of relabels.csv next to this "
      "file and pass it to <code>kiln data --relabels</code> or the params' "
      "<code>relabels</code>.</p>\n";
  for (size_t s = 0; s < sheet.sections.size(); ++s) {
    const SheetSection& section = sheet.sections[s];
    const size_t selected =
        section.count[0] + section.count[1] + section.count[2];
    out += "<section id=\"head-" + std::to_string(s) + "\">\n<h2>head " +
           HtmlEscape(section.head) + ": " + std::to_string(selected) + " of " +
           std::to_string(section.evaluated) + " items to review</h2>\n";
    out +=
        "<p>" +
        std::to_string(
            section.count[static_cast<int>(ReviewReason::kMisclassified)]) +
        " misclassified and accepted, " +
        std::to_string(section.count[static_cast<int>(ReviewReason::kBoth)]) +
        " fallback and misclassified, " +
        std::to_string(
            section.count[static_cast<int>(ReviewReason::kFallback)]) +
        " fallback with the top-1 right. Policy: top-" +
        std::to_string(section.top_k) + ", " +
        HtmlEscape(section.confidence_kind) + " &ge; " +
        Number(section.threshold) + " accepted.";
    if (section.cards.size() < selected) {
      out += " Showing the first " + std::to_string(section.cards.size()) + ".";
    }
    out += "</p>\n";
    if (section.cards.empty()) {
      out += "<p>Nothing to review.</p>\n";
    } else {
      out += "<div class=\"cards\">\n";
      for (const SheetCard& card : section.cards) {
        if (!AppendCard(sheet, card, pixel_max, &out, error)) return false;
      }
      out += "</div>\n";
    }
    out += "</section>\n";
  }
  out += "</body>\n</html>\n";
  *html = std::move(out);
  return true;
}

}  // namespace

const char* ReviewReasonName(ReviewReason reason) {
  switch (reason) {
    case ReviewReason::kMisclassified:
      return "misclassified";
    case ReviewReason::kBoth:
      return "both";
    case ReviewReason::kFallback:
      return "fallback";
  }
  return "?";
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((c < 0x20 && ch != '\t' && ch != '\n') || c == 0x7F) {
          out += "\xEF\xBF\xBD";
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string Base64(const uint8_t* bytes, size_t size) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 |
                       uint32_t(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == size) {
    const uint32_t v = uint32_t(bytes[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == size) {
    const uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool IsImageDataset(const data::Dataset& dataset) {
  const std::vector<int32_t>& s = dataset.item_shape;
  return dataset.feature_type == data::FeatureType::kUint8 && s.size() == 3 &&
         s[0] > 0 && s[1] > 0 && (s[2] == 1 || s[2] == 3);
}

int32_t DatasetPixelMax(const data::Dataset& dataset) {
  uint8_t m = 1;
  for (uint8_t v : dataset.u8) m = std::max(m, v);
  return m;
}

void ThumbnailSize(int32_t height, int32_t width, int32_t target_px,
                   int32_t* out_height, int32_t* out_width) {
  height = std::max(height, 1);
  width = std::max(width, 1);
  target_px = std::max(target_px, 1);
  const int32_t longer = std::max(height, width);
  if (longer <= target_px) {
    const int32_t factor = target_px / longer;
    *out_height = height * factor;
    *out_width = width * factor;
  } else {
    const int64_t t = target_px;
    *out_height =
        static_cast<int32_t>(std::max<int64_t>(1, height * t / longer));
    *out_width = static_cast<int32_t>(std::max<int64_t>(1, width * t / longer));
  }
}

bool ThumbnailPng(const data::Dataset& dataset, size_t index, int32_t target_px,
                  int32_t pixel_max, std::vector<uint8_t>* png, int32_t* height,
                  int32_t* width, std::string* error) {
  png->clear();
  if (!IsImageDataset(dataset)) {
    *error = "dataset '" + dataset.name + "' does not hold images";
    return false;
  }
  if (index >= dataset.size() ||
      dataset.u8.size() < (index + 1) * dataset.item_elements()) {
    *error = "sample " + std::to_string(index) + " is not in dataset '" +
             dataset.name + "'";
    return false;
  }
  const int32_t h = dataset.item_shape[0], w = dataset.item_shape[1],
                c = dataset.item_shape[2];
  int32_t oh = 0, ow = 0;
  ThumbnailSize(h, w, target_px, &oh, &ow);
  const int32_t max = std::clamp(pixel_max, 1, 255);
  const uint8_t* src = dataset.item_bytes(index);
  std::vector<uint8_t> pixels(static_cast<size_t>(oh) * ow * c);
  for (int32_t y = 0; y < oh; ++y) {
    const int64_t sy = static_cast<int64_t>(y) * h / oh;
    for (int32_t x = 0; x < ow; ++x) {
      const int64_t sx = static_cast<int64_t>(x) * w / ow;
      for (int32_t k = 0; k < c; ++k) {
        const int32_t v = src[(sy * w + sx) * c + k];
        pixels[(static_cast<size_t>(y) * ow + x) * c + k] =
            static_cast<uint8_t>(std::min(255, (v * 255 + max / 2) / max));
      }
    }
  }
  PngSink sink{png};
  if (stbi_write_png_to_func(&AppendPng, &sink, ow, oh, c, pixels.data(),
                             ow * c) == 0 ||
      sink.failed) {
    png->clear();
    *error = "cannot encode the thumbnail of sample " + std::to_string(index) +
             " as PNG";
    return false;
  }
  *height = oh;
  *width = ow;
  return true;
}

bool ContactSheetHtml(const ContactSheet& sheet, std::string* html,
                      std::string* error) {
  try {
    return SheetHtml(sheet, html, error);
  } catch (const std::exception& e) {
    *error = std::string("contact sheet: ") + e.what();
    return false;
  }
}

bool WriteContactSheet(const std::string& path, const ContactSheet& sheet,
                       std::string* error) {
  std::string html;
  if (!ContactSheetHtml(sheet, &html, error)) return false;
  return WriteFileAtomic(path, std::vector<uint8_t>(html.begin(), html.end()),
                         error);
}

}  // namespace cli
}  // namespace kiln
