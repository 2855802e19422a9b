// The review contact sheet: escaping, base64, thumbnails (decoded back and
// compared pixel by pixel) and the document's cards and sections.
#include "toolchain/cli/contact_sheet.h"

#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <string>
#include <vector>

#include "tests/toolchain/cli_test_util.h"
#include "tests/toolchain/data_test_util.h"

namespace kiln {
namespace cli {
namespace {

using testing::Contains;

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Decodes base64 (the test's own, to check the encoder against).
std::vector<uint8_t> Unbase64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::vector<uint8_t> out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) break;
    bits = bits << 6 | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> count));
    }
  }
  return out;
}

TEST(ContactSheet, HtmlEscape) {
  EXPECT_EQ(HtmlEscape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
  EXPECT_EQ(HtmlEscape("tab\there\nline"), "tab\there\nline");
  EXPECT_EQ(HtmlEscape(std::string("x\x01y\x7f", 4)),
            "x\xEF\xBF\xBDy\xEF\xBF\xBD");
  EXPECT_EQ(HtmlEscape("caf\xC3\xA9"), "caf\xC3\xA9");  // UTF-8 kept
}

TEST(ContactSheet, Base64TestVectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(
        Base64(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()),
        encoded);
  }
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(255 - i);
  EXPECT_EQ(Unbase64(Base64(all.data(), all.size())), all);
}

TEST(ContactSheet, ThumbnailSize) {
  int32_t h = 0, w = 0;
  ThumbnailSize(8, 8, 96, &h, &w);
  EXPECT_EQ(h, 96);
  EXPECT_EQ(w, 96);
  ThumbnailSize(28, 28, 96, &h, &w);
  EXPECT_EQ(h, 84);  // 3x: the largest integer factor within 96
  EXPECT_EQ(w, 84);
  ThumbnailSize(8, 4, 96, &h, &w);
  EXPECT_EQ(h, 96);
  EXPECT_EQ(w, 48);
  ThumbnailSize(96, 96, 96, &h, &w);
  EXPECT_EQ(h, 96);
  ThumbnailSize(400, 200, 100, &h, &w);  // shrunk
  EXPECT_EQ(h, 100);
  EXPECT_EQ(w, 50);
  ThumbnailSize(1000, 1, 10, &h, &w);
  EXPECT_EQ(h, 10);
  EXPECT_EQ(w, 1);
}

data::Dataset Images(int32_t h, int32_t w, int32_t c, size_t count,
                     uint8_t max_value) {
  data::Dataset d;
  d.name = "img";
  d.item_shape = {h, w, c};
  d.class_names = {"a", "b"};
  for (size_t i = 0; i < count; ++i) {
    for (int32_t e = 0; e < h * w * c; ++e) {
      d.u8.push_back(static_cast<uint8_t>((e * 7 + i * 3) % (max_value + 1)));
    }
    d.labels.push_back(static_cast<int32_t>(i % 2));
    d.origins.push_back("img/" + std::to_string(i) + ".png");
  }
  return d;
}

// Decodes the PNG and checks every pixel is the nearest source pixel,
// stretched from [0, max] to [0, 255].
void ExpectThumbnail(const data::Dataset& d, size_t index, int32_t target,
                     int32_t max, int32_t want_h, int32_t want_w) {
  std::vector<uint8_t> png;
  int32_t h = 0, w = 0;
  std::string error;
  ASSERT_TRUE(ThumbnailPng(d, index, target, max, &png, &h, &w, &error))
      << error;
  ASSERT_EQ(h, want_h);
  ASSERT_EQ(w, want_w);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(std::string(png.begin() + 1, png.begin() + 4), "PNG");
  int dw = 0, dh = 0, dc = 0;
  const int c = d.item_shape[2];
  stbi_uc* pixels = stbi_load_from_memory(
      png.data(), static_cast<int>(png.size()), &dw, &dh, &dc, c);
  ASSERT_NE(pixels, nullptr);
  EXPECT_EQ(dw, w);
  EXPECT_EQ(dh, h);
  EXPECT_EQ(dc, c);
  const int32_t sh = d.item_shape[0], sw = d.item_shape[1];
  const uint8_t* src = d.item_bytes(index);
  size_t bad = 0;
  for (int32_t y = 0; y < h; ++y) {
    for (int32_t x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        const int32_t sy = y * sh / h, sx = x * sw / w;
        const int v = src[(sy * sw + sx) * c + k];
        const int want = std::min(255, (v * 255 + max / 2) / max);
        if (pixels[(y * w + x) * c + k] != want) ++bad;
      }
    }
  }
  stbi_image_free(pixels);
  EXPECT_EQ(bad, 0u);
}

TEST(ContactSheet, ThumbnailsGrayAndRgbDecodeBack) {
  const data::Dataset digits = Images(8, 8, 1, 3, 16);
  EXPECT_TRUE(IsImageDataset(digits));
  EXPECT_EQ(DatasetPixelMax(digits), 16);
  ExpectThumbnail(digits, 2, 96, 16, 96, 96);
  const data::Dataset rgb = Images(5, 3, 3, 2, 255);
  EXPECT_EQ(DatasetPixelMax(rgb), 255);
  ExpectThumbnail(rgb, 1, 64, 255, 60, 36);
  const data::Dataset big = Images(30, 20, 1, 1, 255);
  ExpectThumbnail(big, 0, 12, 255, 12, 8);

  std::vector<uint8_t> png;
  int32_t h = 0, w = 0;
  std::string error;
  EXPECT_FALSE(ThumbnailPng(digits, 3, 96, 16, &png, &h, &w, &error));
  EXPECT_TRUE(Contains(error, "sample 3")) << error;
  data::Dataset features;
  features.name = "tab";
  features.item_shape = {4};
  features.feature_type = data::FeatureType::kFloat32;
  features.f32 = {1, 2, 3, 4};
  features.origins = {"t.csv:2"};
  EXPECT_FALSE(IsImageDataset(features));
  EXPECT_FALSE(ThumbnailPng(features, 0, 96, 255, &png, &h, &w, &error));
  EXPECT_TRUE(Contains(error, "does not hold images")) << error;
}

SheetCard Card(size_t index, const std::string& truth,
               const std::string& predicted, ReviewReason reason) {
  SheetCard c;
  c.index = index;
  c.hash = std::string(63, 'a') + static_cast<char>('0' + index);
  c.origin = "img/<" + std::to_string(index) + ">.png";
  c.true_label = truth;
  c.predicted = {{predicted, 40, 2.5}, {truth, 10, 0.625}};
  c.confidence = 0.75;
  c.reason = reason;
  return c;
}

ContactSheet TwoSections(const data::Dataset* d) {
  ContactSheet sheet;
  sheet.title = "review <of> \"m\"";
  sheet.facts = {{"model", "m&m.kiln"}, {"split", "test"}};
  sheet.dataset = d;
  SheetSection a;
  a.head = "shape";
  a.confidence_kind = "top-1 probability";
  a.threshold = 0.8;
  a.evaluated = 50;
  a.count[0] = 1;
  a.count[1] = 1;
  a.count[2] = 3;
  a.cards = {Card(0, "<script>", "b&b", ReviewReason::kMisclassified),
             Card(1, "a", "b", ReviewReason::kBoth),
             Card(2, "b", "b", ReviewReason::kFallback)};
  SheetSection b;
  b.head = "empty";
  b.evaluated = 50;
  sheet.sections = {a, b};
  return sheet;
}

TEST(ContactSheet, ImageCardsSectionsAndEscaping) {
  const data::Dataset d = Images(8, 8, 1, 3, 16);
  const ContactSheet sheet = TwoSections(&d);
  std::string html, error;
  ASSERT_TRUE(ContactSheetHtml(sheet, &html, &error)) << error;
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(Occurrences(html, "<div class=\"card "), 3u);
  EXPECT_EQ(Occurrences(html, "<img src=\"data:image/png;base64,"), 3u);
  EXPECT_EQ(Occurrences(html, "<section "), 2u);
  EXPECT_EQ(Occurrences(html, "<div class=\"card misclassified\""), 1u);
  EXPECT_EQ(Occurrences(html, "<div class=\"card both\""), 1u);
  EXPECT_EQ(Occurrences(html, "<div class=\"card fallback\""), 1u);
  EXPECT_TRUE(Contains(html, "data-index=\"2\"")) << html;
  EXPECT_TRUE(Contains(html, "data-hash=\"" + sheet.sections[0].cards[1].hash))
      << html;
  EXPECT_TRUE(Contains(html, "head shape: 5 of 50 items to review")) << html;
  EXPECT_TRUE(Contains(html, "Showing the first 3.")) << html;
  EXPECT_TRUE(Contains(html, "head empty: 0 of 50 items to review")) << html;
  EXPECT_TRUE(Contains(html, "Nothing to review.")) << html;
  // No external resources, no scripts, everything escaped.
  EXPECT_FALSE(Contains(html, "<script>"));
  EXPECT_FALSE(Contains(html, "src=\"http"));
  EXPECT_FALSE(Contains(html, "<link"));
  EXPECT_TRUE(Contains(html, "&lt;script&gt;"));
  EXPECT_TRUE(Contains(html, "b&amp;b"));
  EXPECT_TRUE(Contains(html, "review &lt;of&gt; &quot;m&quot;"));
  EXPECT_TRUE(Contains(html, "m&amp;m.kiln"));
  EXPECT_TRUE(Contains(html, "img/&lt;1&gt;.png"));
  EXPECT_TRUE(Contains(html, "fallback: no")) << html;
  EXPECT_EQ(Occurrences(html, "fallback: yes"), 2u);
  EXPECT_TRUE(Contains(html, "logit 2.5")) << html;

  // The first thumbnail decodes to the 96x96 enlargement of sample 0.
  const size_t at = html.find("base64,") + 7;
  const std::vector<uint8_t> png =
      Unbase64(html.substr(at, html.find('"', at) - at));
  int w = 0, h = 0, c = 0;
  stbi_uc* pixels = stbi_load_from_memory(
      png.data(), static_cast<int>(png.size()), &w, &h, &c, 1);
  ASSERT_NE(pixels, nullptr);
  EXPECT_EQ(w, 96);
  EXPECT_EQ(h, 96);
  // Source pixel (row 1, col 2) = element 10 of sample 0, stretched.
  const int want = (d.u8[10] * 255 + 8) / 16;
  EXPECT_EQ(pixels[(1 * 12 + 5) * 96 + 2 * 12 + 7], want);
  stbi_image_free(pixels);

  // Written atomically.
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteContactSheet(dir.Path("r.html"), sheet, &error)) << error;
  EXPECT_EQ(testing::ReadBytes(dir.Path("r.html")), html);
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"r.html"});
}

TEST(ContactSheet, FeatureRowsHaveNoThumbnails) {
  data::Dataset d;
  d.name = "tab";
  d.item_shape = {2};
  d.feature_type = data::FeatureType::kFloat32;
  d.f32 = {1, 2, 3, 4, 5, 6};
  d.labels = {0, 1, 0};
  d.class_names = {"a", "b"};
  d.origins = {"t.csv:2", "t.csv:3", "t.csv:4"};
  const ContactSheet sheet = TwoSections(&d);
  std::string html, error;
  ASSERT_TRUE(ContactSheetHtml(sheet, &html, &error)) << error;
  EXPECT_EQ(Occurrences(html, "<div class=\"card "), 3u);
  EXPECT_FALSE(Contains(html, "<img"));
  EXPECT_TRUE(Contains(html, "#2</b>"));
}

TEST(ContactSheet, CardOutsideTheDatasetIsAnError) {
  const data::Dataset d = Images(8, 8, 1, 2, 16);  // no sample 2
  const ContactSheet sheet = TwoSections(&d);
  std::string html, error;
  EXPECT_FALSE(ContactSheetHtml(sheet, &html, &error));
  EXPECT_TRUE(Contains(error, "sample 2")) << error;
  testing::ScratchDir dir;
  EXPECT_FALSE(WriteContactSheet(dir.Path("r.html"), sheet, &error));
  EXPECT_TRUE(dir.Entries().empty());
}

}  // namespace
}  // namespace cli
}  // namespace kiln
