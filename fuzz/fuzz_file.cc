#include "fuzz/fuzz_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kiln_fuzz {

FuzzFile::FuzzFile(const char* name) {
  fd_ = memfd_create(name, MFD_CLOEXEC);
  if (fd_ < 0) {
    perror("memfd_create");
    abort();
  }
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

FuzzFile::~FuzzFile() { close(fd_); }

const std::string& FuzzFile::Set(const uint8_t* data, size_t size) {
  if (ftruncate(fd_, 0) != 0) {
    perror("ftruncate");
    abort();
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) {
      perror("pwrite");
      abort();
    }
    done += static_cast<size_t>(n);
  }
  return path_;
}

}  // namespace kiln_fuzz
