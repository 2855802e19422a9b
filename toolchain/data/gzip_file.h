// Reading a file that may or may not be gzip-compressed, through zlib (a
// plain file is read as is). The data sources never trust a size a file
// declares: they read through this class and allocate only as bytes arrive.
#ifndef KILN_TOOLCHAIN_DATA_GZIP_FILE_H_
#define KILN_TOOLCHAIN_DATA_GZIP_FILE_H_

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace kiln {
namespace data {

class GzipFile {
 public:
  GzipFile() = default;
  ~GzipFile();
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  // Opens `path`, which must be a regular file. On failure *error names the
  // file and says why.
  bool Open(const std::string& path, std::string* error);

  // Reads up to `n` bytes into `buffer`; *got < n only at the end of the
  // file. A corrupt or truncated gzip stream is an error naming the file.
  bool Read(void* buffer, size_t n, size_t* got, std::string* error);

  // Reads and discards the rest of the file, counting the bytes, but stops
  // counting after `limit` bytes (*count is then limit + 1).
  bool SkipRest(uint64_t limit, uint64_t* count, std::string* error);

  // Whether the file is gzip-compressed (as opposed to read as is).
  bool compressed() const { return compressed_; }
  // The size of the file on disk.
  uint64_t disk_size() const { return disk_size_; }
  // The most bytes the file can possibly decompress to (deflate cannot do
  // better than about 1032:1); its size for a plain file. A bound to cap
  // allocations with, never a promise.
  uint64_t max_content_size() const;
  const std::string& path() const { return path_; }

 private:
  void* file_ = nullptr;  // gzFile
  std::string path_;
  uint64_t disk_size_ = 0;
  bool compressed_ = false;
};

// Reads all of `path` (decompressed if it is gzip) into *bytes. A file whose
// content is larger than `max_bytes` is an error; memory grows only as data
// is actually read.
bool ReadFileMaybeGzip(const std::string& path, uint64_t max_bytes,
                       std::vector<uint8_t>* bytes, std::string* error);

// "<n> bytes", "<n> KiB", "<n> MiB", "<n> GiB" for error messages.
std::string FormatByteCount(uint64_t bytes);

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_GZIP_FILE_H_
