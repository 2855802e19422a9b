// The review contact sheet: one self-contained HTML file (no scripts, no
// external files: thumbnails are PNGs embedded as data: URIs) with a card
// per item a person should look at, grouped in one section per head.
//
// A card shows the item's thumbnail (images only: grayscale or RGB uint8
// items, enlarged with nearest-neighbour so an 8x8 digit is visible; a
// feature-vector item has no thumbnail, only its row), its index in the
// dataset, its content hash (short; the full hash in the title and in
// data-hash), where it came from, the true label, the predicted top-k with
// their logits, the confidence against the head's threshold, and the
// reason it is shown:
//
//   misclassified  accepted by the decision layer but wrong: the dangerous
//                  ones, shown first
//   both           sent to fallback, and the top-1 is wrong
//   fallback       sent to fallback, although the top-1 is right
//
// Every text from outside (class names come from folder names, origins
// from paths) is HTML-escaped.
#ifndef KILN_TOOLCHAIN_CLI_CONTACT_SHEET_H_
#define KILN_TOOLCHAIN_CLI_CONTACT_SHEET_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <utility>
#include <vector>

#include "toolchain/data/dataset.h"

namespace kiln {
namespace cli {

enum class ReviewReason { kMisclassified, kBoth, kFallback };
// "misclassified", "both", "fallback".
const char* ReviewReasonName(ReviewReason reason);

struct SheetCandidate {
  std::string label;
  int32_t score = 0;  // the quantized logit (kiln_decision.score)
  double logit = 0;   // dequantized
};

struct SheetCard {
  size_t index = 0;  // sample index in the dataset
  std::string hash;  // content hash, 64 hex digits
  std::string origin;
  std::string true_label;
  std::vector<SheetCandidate> predicted;  // the top-k, best first
  double confidence = 0;                  // real value
  ReviewReason reason = ReviewReason::kFallback;
};

struct SheetSection {
  std::string head;
  std::string confidence_kind;  // e.g. "top-1 probability"
  double threshold = 0;         // real value; confidence below: fallback
  int32_t top_k = 1;
  size_t evaluated = 0;  // items of the split run through the model
  // Items of each reason among the evaluated (indexed by ReviewReason);
  // the cards may be fewer (a --limit).
  size_t count[3] = {0, 0, 0};
  std::vector<SheetCard> cards;
};

struct ContactSheet {
  std::string title;
  // Shown under the title: {"model", "out/m.kiln"}, {"split", "test"}, ...
  std::vector<std::pair<std::string, std::string>> facts;
  const data::Dataset* dataset = nullptr;  // the thumbnails' pixels
  int32_t thumbnail_px = 96;  // the longer side of a thumbnail, about
  std::vector<SheetSection> sections;
};

// The whole HTML document. False (and *error) only if a thumbnail cannot be
// encoded or a card's index is outside the dataset.
bool ContactSheetHtml(const ContactSheet& sheet, std::string* html,
                      std::string* error);
// ContactSheetHtml, written with WriteFileAtomic.
bool WriteContactSheet(const std::string& path, const ContactSheet& sheet,
                       std::string* error);

// ---- The pieces ----

// & < > " ' as entities; control characters other than tab and newline
// become U+FFFD.
std::string HtmlEscape(const std::string& text);

// Standard base64 (RFC 4648) with padding.
std::string Base64(const uint8_t* bytes, size_t size);

// Whether the dataset's items are images the sheet can draw: uint8 with
// shape {H, W, 1} or {H, W, 3}.
bool IsImageDataset(const data::Dataset& dataset);

// The largest pixel value in the dataset (at least 1): thumbnails stretch
// [0, max] to [0, 255] so that digits (0..16) are not black.
int32_t DatasetPixelMax(const data::Dataset& dataset);

// Thumbnail size for an H x W image: the longer side enlarged by the
// largest integer factor that keeps it within target_px (at least 1), or
// shrunk to target_px when it is already larger.
void ThumbnailSize(int32_t height, int32_t width, int32_t target_px,
                   int32_t* out_height, int32_t* out_width);

// Sample `index` of an image dataset as a PNG (grayscale or RGB), scaled to
// ThumbnailSize with nearest-neighbour and stretched by pixel_max.
bool ThumbnailPng(const data::Dataset& dataset, size_t index, int32_t target_px,
                  int32_t pixel_max, std::vector<uint8_t>* png, int32_t* height,
                  int32_t* width, std::string* error);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_CONTACT_SHEET_H_
