// kiln blocklab encode IMAGE --out FILE.kbl [--search full|default]
//                     [--threads N]
// kiln blocklab decode FILE.kbl --out IMAGE.png
// kiln blocklab dataset --out FILE.kbds [--images A,B,...] [--threads N]
// kiln blocklab tlg8 DUMP.jsonl[.gz] [--strict]
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "toolchain/atomic_file.h"
#include "toolchain/blocklab/block_coder.h"
#include "toolchain/blocklab/block_dataset.h"
#include "toolchain/blocklab/parallel_for.h"
#include "toolchain/blocklab/tlg8_dump.h"
#include "toolchain/cli/command.h"
#include "toolchain/cli/progress.h"
#include "toolchain/data/gzip_file.h"

namespace kiln {
namespace cli {

const char kBlocklabUsage[] =
    "usage: kiln blocklab encode IMAGE --out FILE.kbl [--search full|default]\n"
    "                            [--threads N]\n"
    "       kiln blocklab decode FILE.kbl --out IMAGE.png\n"
    "       kiln blocklab dataset --out FILE.kbds [--images A,B,...]\n"
    "                             [--threads N]\n"
    "       kiln blocklab tlg8 DUMP.jsonl[.gz] [--strict]\n"
    "\n"
    "The reference lossless block coder (docs/blocklab.md) and its data\n"
    "(docs/block_data.md).\n"
    "\n"
    "encode   searches every 8x8 block's side information (predictor, colour\n"
    "         filter, scan, interleave), encodes IMAGE (PNG/JPEG/BMP/PPM) and\n"
    "         writes FILE.kbl atomically; the stream is decoded again and\n"
    "         checked before it is written. Prints the size, bits/pixel,\n"
    "         bit estimates per block and the time.\n"
    "           --search full     all 12,288 tuples per block (default)\n"
    "           --search default  the codec's energy-pruned search\n"
    "decode   decodes FILE.kbl and writes IMAGE.png atomically.\n"
    "dataset  labels every block of the bundled photographs (Debian's\n"
    "         python3-skimage and python3-sklearn sample images; --images\n"
    "         picks some by name) with the full search and writes the block\n"
    "         dataset FILE.kbds atomically; progress on stderr.\n"
    "tlg8     streams a TLG8 encoder training dump (JSONL, plain or gzip),\n"
    "         reports bad lines (number and reason) and summarises the\n"
    "         records: blocks, images, best predictors and how often the\n"
    "         cheap residual-energy ranking's first predictor is the best.\n"
    "           --strict          the first bad line is an error\n"
    "\n"
    "options:\n"
    "  --out FILE     the file to write (never the input)\n"
    "  --threads N    worker threads, 1..256 (default: the CPU count)\n"
    "  -h, --help     show this help\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or corrupt input, failed write or no\n"
    "valid record, 2 bad usage\n";

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int UsageError(const std::string& message) {
  fprintf(stderr, "kiln blocklab: %s\n(run 'kiln blocklab --help')\n",
          message.c_str());
  return kExitUsage;
}

int Failure(std::string message) {
  while (!message.empty() && message.back() == '\n') message.pop_back();
  fprintf(stderr, "kiln blocklab: %s\n", message.c_str());
  return kExitFailure;
}

// The command line of one subcommand: positional arguments and options.
struct Parsed {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  bool Has(const std::string& name) const {
    return values.count(name) != 0 || flags.count(name) != 0;
  }
  std::string Value(const std::string& name,
                    const std::string& fallback) const {
    const auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

// Accepts "--name VALUE", "--name=VALUE" for `with_value`, "--name" for
// `flags`. Returns "" or the usage error.
std::string ParseOptions(const Args& args, size_t first,
                         const std::set<std::string>& with_value,
                         const std::set<std::string>& flags, Parsed* out) {
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      out->positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (with_value.count(name) != 0) {
      std::string value;
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return name + " needs a value";
      }
      if (value.empty()) return name + " needs a value";
      if (out->values.count(name) != 0) return name + " given twice";
      out->values[name] = value;
    } else if (flags.count(name) != 0 && eq == std::string::npos) {
      if (out->flags.count(name) != 0) return name + " given twice";
      out->flags.insert(name);
    } else {
      return "unknown option '" + a + "'";
    }
  }
  return "";
}

// "--threads N": 1..256; default the CPU count. Returns "" or the error.
std::string ParseThreads(const Parsed& p, int* threads) {
  const unsigned cpus = std::thread::hardware_concurrency();
  *threads = static_cast<int>(std::min(256u, std::max(1u, cpus)));
  if (!p.Has("--threads")) return "";
  const std::string text = p.Value("--threads", "");
  char* end = nullptr;
  errno = 0;
  const long n = strtol(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || n < 1 || n > 256) {
    return "--threads wants a number from 1 to 256, not '" + text + "'";
  }
  *threads = static_cast<int>(n);
  return "";
}

// Whether writing `out` would replace the file `in` (same inode; a path
// that does not exist yet cannot be the input).
bool SameFile(const std::string& in, const std::string& out) {
  if (in == out) return true;
  struct stat a, b;
  return stat(in.c_str(), &a) == 0 && stat(out.c_str(), &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// ---- encode ----

int RunEncode(const Args& args) {
  Parsed p;
  std::string error =
      ParseOptions(args, 1, {"--out", "--search", "--threads"}, {}, &p);
  if (!error.empty()) return UsageError("encode: " + error);
  if (p.positional.size() != 1) {
    return UsageError("encode wants one IMAGE (got " +
                      std::to_string(p.positional.size()) + ")");
  }
  if (!p.Has("--out")) return UsageError("encode needs --out FILE.kbl");
  const std::string search = p.Value("--search", "full");
  if (search != "full" && search != "default") {
    return UsageError("--search is 'full' or 'default', not '" + search + "'");
  }
  int threads = 1;
  error = ParseThreads(p, &threads);
  if (!error.empty()) return UsageError(error);
  const std::string& in = p.positional[0];
  const std::string out = p.Value("--out", "");
  if (SameFile(in, out)) {
    return UsageError("--out " + out + " is the input image; refusing to " +
                      "overwrite it");
  }

  blocklab::Image image;
  if (!blocklab::LoadImage(in, &image, &error)) return Failure(error);
  if (image.width <= 0 || image.height <= 0) {
    return Failure(in + ": empty image");
  }
  const auto start = Clock::now();
  const int32_t blocks = image.blocks();
  std::vector<blocklab::BlockTuple> tuples(static_cast<size_t>(blocks));
  std::vector<uint32_t> estimates(static_cast<size_t>(blocks));
  const blocklab::Candidates pruned = blocklab::DefaultSearch();
  const blocklab::Candidates* candidates = search == "full" ? nullptr : &pruned;
  blocklab::ParallelFor(static_cast<size_t>(blocks), threads, [&](size_t i) {
    const int32_t b = static_cast<int32_t>(i);
    blocklab::BlockLabels labels;
    blocklab::SearchBlock(image, b, candidates, &labels);
    tuples[static_cast<size_t>(b)] = labels.best;
    estimates[static_cast<size_t>(b)] = labels.estimates;
  });
  const double search_seconds = SecondsSince(start);

  const auto encode_start = Clock::now();
  blocklab::EncodeResult encoded;
  if (!blocklab::EncodeImage(image, tuples, &encoded, &error)) {
    return Failure(in + ": " + error);
  }
  const double encode_seconds = SecondsSince(encode_start);
  // The stream must decode to the input before it is written.
  const auto verify_start = Clock::now();
  blocklab::Image check;
  if (!blocklab::DecodeImage(encoded.bytes.data(), encoded.bytes.size(), &check,
                             &error)) {
    return Failure("internal error: the encoded stream does not decode: " +
                   error);
  }
  if (check.width != image.width || check.height != image.height ||
      check.rgb != image.rgb) {
    return Failure(
        "internal error: the encoded stream decodes to other "
        "pixels");
  }
  const double verify_seconds = SecondsSince(verify_start);
  if (!WriteFileAtomic(out, encoded.bytes, &error)) return Failure(error);

  uint64_t total_estimates = 0;
  for (uint32_t e : estimates) total_estimates += e;
  const double pixels =
      static_cast<double>(image.width) * static_cast<double>(image.height);
  printf("encoded %s (%dx%d, %d blocks) -> %s\n", in.c_str(), image.width,
         image.height, blocks, out.c_str());
  printf("  size       %zu bytes, %.4f bits/pixel (side information %.4f)\n",
         encoded.bytes.size(),
         8.0 * static_cast<double>(encoded.bytes.size()) / pixels,
         static_cast<double>(encoded.side_bits) / pixels);
  printf("  search     %s: %.1f estimates/block (of %d)\n", search.c_str(),
         static_cast<double>(total_estimates) / blocks, blocklab::kTuples);
  printf(
      "  time       search %.3f s on %d threads, encode %.3f s, "
      "verify %.3f s\n",
      search_seconds, threads, encode_seconds, verify_seconds);
  return kExitOk;
}

// ---- decode ----

int RunDecode(const Args& args) {
  Parsed p;
  const std::string perr = ParseOptions(args, 1, {"--out"}, {}, &p);
  if (!perr.empty()) return UsageError("decode: " + perr);
  if (p.positional.size() != 1) {
    return UsageError("decode wants one FILE.kbl (got " +
                      std::to_string(p.positional.size()) + ")");
  }
  if (!p.Has("--out")) return UsageError("decode needs --out IMAGE.png");
  const std::string& in = p.positional[0];
  const std::string out = p.Value("--out", "");
  if (SameFile(in, out)) {
    return UsageError("--out " + out +
                      " is the input; refusing to "
                      "overwrite it");
  }
  std::string error;
  std::vector<uint8_t> bytes;
  constexpr uint64_t kMaxStream = uint64_t{1} << 30;
  if (!data::ReadFileMaybeGzip(in, kMaxStream, &bytes, &error))
    return Failure(error);
  const auto start = Clock::now();
  blocklab::Image image;
  if (!blocklab::DecodeImage(bytes.data(), bytes.size(), &image, &error)) {
    return Failure(in + ": " + error);
  }
  const double seconds = SecondsSince(start);
  if (!blocklab::WritePng(out, image, &error)) return Failure(error);
  printf("decoded %s (%dx%d, %zu bytes) -> %s in %.3f s\n", in.c_str(),
         image.width, image.height, bytes.size(), out.c_str(), seconds);
  return kExitOk;
}

// ---- dataset ----

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t comma; (comma = text.find(',', start)) != std::string::npos;
       start = comma + 1) {
    parts.push_back(text.substr(start, comma - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

int RunDataset(const Args& args) {
  Parsed p;
  std::string error =
      ParseOptions(args, 1, {"--out", "--images", "--threads"}, {}, &p);
  if (!error.empty()) return UsageError("dataset: " + error);
  if (!p.positional.empty()) {
    return UsageError("dataset takes no positional argument ('" +
                      p.positional[0] + "')");
  }
  if (!p.Has("--out")) return UsageError("dataset needs --out FILE.kbds");
  int threads = 1;
  error = ParseThreads(p, &threads);
  if (!error.empty()) return UsageError(error);
  const std::string out = p.Value("--out", "");

  const std::vector<blocklab::Photo> all = blocklab::BundledPhotos();
  std::vector<blocklab::Photo> photos;
  if (p.Has("--images")) {
    std::string known;
    for (const blocklab::Photo& photo : all) {
      known += (known.empty() ? "" : ", ") + photo.name;
    }
    std::set<std::string> seen;
    for (const std::string& name : SplitCommas(p.Value("--images", ""))) {
      const auto it = std::find_if(
          all.begin(), all.end(),
          [&](const blocklab::Photo& x) { return x.name == name; });
      if (it == all.end()) {
        return UsageError("--images: no bundled photograph '" + name +
                          "' on this machine (available: " +
                          (known.empty() ? "none" : known) + ")");
      }
      if (!seen.insert(name).second) {
        return UsageError("--images names '" + name + "' twice");
      }
      photos.push_back(*it);
    }
  } else {
    photos = all;
  }
  if (photos.empty()) {
    return Failure(
        "no bundled photographs found (install python3-skimage "
        "and python3-sklearn: scripts/setup.sh)");
  }
  for (const blocklab::Photo& photo : photos) {
    if (SameFile(photo.path, out)) {
      return UsageError("--out " + out + " is an input photograph");
    }
  }

  // Load everything first: the block total makes the progress line honest
  // and a broken file fails before the long part.
  std::vector<blocklab::Image> images(photos.size());
  uint64_t total_blocks = 0;
  for (size_t i = 0; i < photos.size(); ++i) {
    if (!blocklab::LoadImage(photos[i].path, &images[i], &error)) {
      return Failure(error);
    }
    total_blocks += static_cast<uint64_t>(images[i].blocks());
  }
  const auto start = Clock::now();
  blocklab::BlockDataset dataset;
  ProgressBar::Options options;
  options.unit = "blocks";
  ProgressBar bar("labelling", total_blocks, options);
  uint64_t done = 0;
  for (size_t i = 0; i < photos.size(); ++i) {
    dataset.images.push_back(photos[i].name);
    blocklab::AppendImageBlocks(images[i], static_cast<uint16_t>(i), threads,
                                &dataset);
    done += static_cast<uint64_t>(images[i].blocks());
    bar.Update(done);
  }
  bar.Finish();
  const double seconds = SecondsSince(start);
  if (!blocklab::WriteBlockDataset(out, dataset, &error)) {
    return Failure(error);
  }
  struct stat st;
  const long long file_bytes =
      stat(out.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
  printf("%-18s %10s %7s  %-16s %s\n", "image", "size", "blocks", "package",
         "licence");
  for (size_t i = 0; i < photos.size(); ++i) {
    char size[32];
    snprintf(size, sizeof(size), "%dx%d", images[i].width, images[i].height);
    printf("%-18s %10s %7d  %-16s %s\n", photos[i].name.c_str(), size,
           images[i].blocks(), photos[i].package.c_str(),
           photos[i].licence.c_str());
  }
  printf(
      "wrote %s: %zu images, %zu blocks, %lld bytes; labelled in %.1f s "
      "on %d threads (%.0f blocks/s)\n",
      out.c_str(), dataset.images.size(), dataset.examples.size(), file_bytes,
      seconds, threads,
      seconds > 0 ? static_cast<double>(dataset.examples.size()) / seconds
                  : 0.0);
  return kExitOk;
}

// ---- tlg8 ----

double Percent(uint64_t part, uint64_t whole) {
  return whole == 0
             ? 0.0
             : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

int RunTlg8(const Args& args) {
  Parsed p;
  const std::string perr = ParseOptions(args, 1, {}, {"--strict"}, &p);
  if (!perr.empty()) return UsageError("tlg8: " + perr);
  if (p.positional.size() != 1) {
    return UsageError("tlg8 wants one DUMP.jsonl[.gz] (got " +
                      std::to_string(p.positional.size()) + ")");
  }
  const std::string& path = p.positional[0];
  blocklab::Tlg8DumpReader reader;
  reader.set_strict(p.Has("--strict"));
  std::string error;
  if (!reader.Open(path, &error)) return Failure(error);
  const auto start = Clock::now();

  constexpr size_t kMaxImagesListed = 10;
  std::map<std::string, uint64_t> images;
  uint64_t records = 0, edge_blocks = 0, energy_top1 = 0, energy_top3 = 0;
  uint64_t within_one_bit = 0, with_second = 0, best_bits = 0, pixels = 0;
  uint64_t best_predictor[8] = {};
  blocklab::Tlg8Record r;
  while (reader.Next(&r, &error)) {
    ++records;
    if (images.size() < 100000 || images.count(r.image) != 0) {
      ++images[r.image];
    }
    if (r.block_width != 8 || r.block_height != 8) ++edge_blocks;
    ++best_predictor[r.best.predictor];
    // The cheap ranking: predictors by residual energy, ties to the lower
    // index (an input computed from pixels, not a search result).
    int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    std::stable_sort(order, order + 8, [&](int a, int b) {
      return r.residual_energy_by_predictor[a] <
             r.residual_energy_by_predictor[b];
    });
    if (order[0] == r.best.predictor) ++energy_top1;
    if (std::find(order, order + 3, r.best.predictor) != order + 3) {
      ++energy_top3;
    }
    if (r.second.predictor >= 0) {
      ++with_second;
      if (r.second.bits <= r.best.bits + 1) ++within_one_bit;
    }
    best_bits += r.best.bits;
    pixels += static_cast<uint64_t>(r.block_width) * r.block_height;
  }
  if (!error.empty()) return Failure(error);
  const double seconds = SecondsSince(start);

  printf("%s: %llu lines, %llu records, %llu bad lines\n", path.c_str(),
         static_cast<unsigned long long>(reader.lines_read()),
         static_cast<unsigned long long>(records),
         static_cast<unsigned long long>(reader.bad_line_count()));
  const auto& bad = reader.bad_lines();
  constexpr size_t kBadShown = 5;
  for (size_t i = 0; i < std::min(bad.size(), kBadShown); ++i) {
    printf("  %s\n", bad[i].c_str());
  }
  if (reader.bad_line_count() > kBadShown) {
    printf("  ... and %llu more\n", static_cast<unsigned long long>(
                                        reader.bad_line_count() - kBadShown));
  }
  if (records == 0) return Failure(path + ": no valid record");
  printf("blocks       %llu (%llu edge blocks smaller than 8x8)\n",
         static_cast<unsigned long long>(records),
         static_cast<unsigned long long>(edge_blocks));
  printf("images       %zu:", images.size());
  size_t listed = 0;
  for (const auto& image : images) {
    if (listed++ == kMaxImagesListed) {
      printf(" ...");
      break;
    }
    printf(" %s (%llu)", image.first.c_str(),
           static_cast<unsigned long long>(image.second));
  }
  printf("\n");
  printf("best bits    %.3f bits/pixel (residuals of the best tuples)\n",
         pixels == 0
             ? 0.0
             : static_cast<double>(best_bits) / static_cast<double>(pixels));
  printf("best predictor");
  for (int i = 0; i < 8; ++i) {
    printf("  %d: %.1f%%", i, Percent(best_predictor[i], records));
  }
  printf("\n");
  printf(
      "energy rank  top-1 is the best predictor in %.1f%% of blocks, "
      "top-3 holds it in %.1f%%\n",
      Percent(energy_top1, records), Percent(energy_top3, records));
  if (with_second > 0) {
    printf("second best  within 1 bit of the best in %.1f%% of blocks\n",
           Percent(within_one_bit, with_second));
  }
  printf("read in %.3f s (%.0f records/s)\n", seconds,
         seconds > 0 ? static_cast<double>(records) / seconds : 0.0);
  return kExitOk;
}

}  // namespace

int RunBlocklab(const Args& args) {
  try {
    if (args.empty()) {
      return UsageError("needs a subcommand: encode, decode, dataset or tlg8");
    }
    const std::string& sub = args[0];
    if (sub == "encode") return RunEncode(args);
    if (sub == "decode") return RunDecode(args);
    if (sub == "dataset") return RunDataset(args);
    if (sub == "tlg8") return RunTlg8(args);
    return UsageError("unknown subcommand '" + sub +
                      "' (encode, decode, dataset, tlg8)");
  } catch (const std::bad_alloc&) {
    return Failure("out of memory");
  } catch (const std::exception& e) {
    return Failure(e.what());
  }
}

}  // namespace cli
}  // namespace kiln
