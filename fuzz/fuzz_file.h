// The dataset readers take paths. Rather than add in-memory entry points to
// each, a fuzz target writes its input into one anonymous in-memory file
// (memfd_create) per process and hands the reader /proc/self/fd/N: a
// regular file to stat and open, no disk I/O, nothing left behind.
#ifndef KILN_FUZZ_FUZZ_FILE_H_
#define KILN_FUZZ_FUZZ_FILE_H_

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace kiln_fuzz {

class FuzzFile {
 public:
  // `name` only labels the file in /proc (and so in messages).
  explicit FuzzFile(const char* name);
  ~FuzzFile();
  FuzzFile(const FuzzFile&) = delete;
  FuzzFile& operator=(const FuzzFile&) = delete;

  // Replaces the content with `size` bytes and returns the path to read it
  // through. Aborts if the memory file cannot be written (not the reader's
  // fault, so not a finding).
  const std::string& Set(const uint8_t* data, size_t size);

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace kiln_fuzz

#endif  // KILN_FUZZ_FUZZ_FILE_H_
