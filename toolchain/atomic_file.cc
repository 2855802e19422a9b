#include "toolchain/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace kiln {
namespace {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Reason(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + strerror(errno);
}

bool WriteAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Creates "<path>.tmp.<pid>.<n>" exclusively. Unlike mkstemp (always 0600)
// open() applies the umask to 0644, like any other file the user writes.
int CreateTemp(const std::string& path, std::string* tmp) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    *tmp = path + ".tmp." + std::to_string(getpid()) + "." +
           std::to_string(counter.fetch_add(1));
    const int fd =
        open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

}  // namespace

bool WriteFileAtomic(const std::string& path, const std::vector<uint8_t>& bytes,
                     std::string* error) {
  if (path.empty() || path.back() == '/') {
    *error = "'" + path + "' is not a file path";
    return false;
  }
  // rename() would refuse a directory too, but only after the whole file
  // was written; say it up front and plainly.
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    *error = "'" + path + "' is a directory";
    return false;
  }
  const std::string dir = DirectoryOf(path);
  std::string tmp;
  const int fd = CreateTemp(path, &tmp);
  if (fd < 0) {
    *error = Reason("cannot create a temporary file in", dir);
    return false;
  }
  bool ok = WriteAll(fd, bytes);
  if (!ok) *error = Reason("cannot write", tmp);
  if (ok && fsync(fd) != 0) {
    *error = Reason("cannot sync", tmp);
    ok = false;
  }
  if (close(fd) != 0 && ok) {
    *error = Reason("cannot close", tmp);
    ok = false;
  }
  if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
    *error = Reason("cannot rename the temporary file to", path);
    ok = false;
  }
  if (!ok) {
    unlink(tmp.c_str());
    return false;
  }
  // Make the rename itself durable. The new contents are already in place,
  // so a failure here is not reported as a failed write.
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return true;
}

bool SameFile(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

}  // namespace kiln
