#include "toolchain/data/gzip_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>

#include "toolchain/data/catch_errors.h"

namespace kiln {
namespace data {
namespace {

constexpr size_t kMaxReadChunk = size_t{1} << 30;  // gzread takes an unsigned
// Reads into a growing buffer start at this size and double up to the cap.
constexpr size_t kFirstChunk = size_t{64} << 10;
constexpr size_t kMaxChunk = size_t{16} << 20;

std::string ErrnoText(int err) { return strerror(err); }

}  // namespace

std::string FormatByteCount(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (value >= 1024.0 && unit < 3) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  return text;
}

GzipFile::~GzipFile() {
  if (file_ != nullptr) gzclose(static_cast<gzFile>(file_));
}

bool GzipFile::Open(const std::string& path, std::string* error) {
  if (file_ != nullptr) {
    gzclose(static_cast<gzFile>(file_));
    file_ = nullptr;
  }
  path_ = path;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": cannot open: " + ErrnoText(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *error = path + ": cannot stat: " + ErrnoText(errno);
    close(fd);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = path + (S_ISDIR(st.st_mode) ? ": is a directory, not a file"
                                         : ": is not a regular file");
    close(fd);
    return false;
  }
  disk_size_ = static_cast<uint64_t>(st.st_size);
  unsigned char magic[2] = {0, 0};
  const ssize_t n = pread(fd, magic, sizeof(magic), 0);
  compressed_ = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  gzFile file = gzdopen(fd, "rb");
  if (file == nullptr) {
    *error = path + ": cannot open: out of memory";
    close(fd);
    return false;
  }
  gzbuffer(file, 128 * 1024);
  file_ = file;
  return true;
}

bool GzipFile::Read(void* buffer, size_t n, size_t* got, std::string* error) {
  *got = 0;
  if (file_ == nullptr) {
    *error = path_ + ": not open";
    return false;
  }
  gzFile file = static_cast<gzFile>(file_);
  uint8_t* out = static_cast<uint8_t*>(buffer);
  while (*got < n) {
    const size_t want = std::min(n - *got, kMaxReadChunk);
    const int r = gzread(file, out + *got, static_cast<unsigned>(want));
    int errnum = Z_OK;
    const char* message = gzerror(file, &errnum);
    if (r < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
      if (errnum == Z_ERRNO) {
        *error = path_ + ": read error: " + ErrnoText(errno);
      } else {
        *error = path_ + ": corrupt gzip data: " +
                 (message != nullptr ? message : "unknown zlib error");
      }
      return false;
    }
    *got += static_cast<size_t>(r);
    if (static_cast<size_t>(r) < want) break;  // end of file
  }
  return true;
}

bool GzipFile::SkipRest(uint64_t limit, uint64_t* count, std::string* error) {
  *count = 0;
  uint8_t scratch[16 * 1024];
  while (*count <= limit) {
    size_t got = 0;
    if (!Read(scratch, sizeof(scratch), &got, error)) return false;
    *count += got;
    if (got < sizeof(scratch)) return true;
  }
  *count = limit + 1;
  return true;
}

uint64_t GzipFile::max_content_size() const {
  if (!compressed_) return disk_size_;
  constexpr uint64_t kRatio = 1032;
  if (disk_size_ > UINT64_MAX / kRatio - 65536) return UINT64_MAX;
  return disk_size_ * kRatio + 65536;
}

static bool ReadUnguarded(const std::string& path, uint64_t max_bytes,
                          std::vector<uint8_t>* bytes, std::string* error) {
  GzipFile file;
  if (!file.Open(path, error)) return false;
  // A plain file's size is known: one read of that size plus one byte (to
  // see the end). A gzip stream's is not: grow as the data comes.
  const uint64_t expected = std::min(file.max_content_size(), max_bytes);
  if (!file.compressed()) bytes->reserve(static_cast<size_t>(expected) + 1);
  for (;;) {
    const size_t old_size = bytes->size();
    if (old_size > max_bytes) {
      *error = path + ": larger than the " + FormatByteCount(max_bytes) +
               " limit for this kind of file";
      bytes->clear();
      return false;
    }
    // One byte past the limit, to tell "exactly max_bytes" from "more".
    const uint64_t room = max_bytes - static_cast<uint64_t>(old_size);
    const size_t want =
        !file.compressed() && old_size == 0
            ? static_cast<size_t>(expected) + 1
            : std::min(std::max(kFirstChunk, old_size), kMaxChunk);
    const size_t chunk = room < want ? static_cast<size_t>(room) + 1 : want;
    bytes->resize(old_size + chunk);
    size_t got = 0;
    if (!file.Read(bytes->data() + old_size, chunk, &got, error)) {
      bytes->clear();
      return false;
    }
    bytes->resize(old_size + got);
    if (got < chunk) break;
  }
  if (bytes->size() > max_bytes) {
    *error = path + ": larger than the " + FormatByteCount(max_bytes) +
             " limit for this kind of file";
    bytes->clear();
    return false;
  }
  return true;
}

bool ReadFileMaybeGzip(const std::string& path, uint64_t max_bytes,
                       std::vector<uint8_t>* bytes, std::string* error) {
  bytes->clear();
  if (CatchErrors(path, error, [&] {
        return ReadUnguarded(path, max_bytes, bytes, error);
      })) {
    return true;
  }
  bytes->clear();
  return false;
}

}  // namespace data
}  // namespace kiln
