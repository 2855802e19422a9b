// A scratch directory for tests, removed with everything in it when the
// object goes away.
#ifndef KILN_TESTS_TOOLCHAIN_SCRATCH_DIR_H_
#define KILN_TESTS_TOOLCHAIN_SCRATCH_DIR_H_

#include <dirent.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kiln {
namespace testing {

class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
        "/kiln_test_XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    path_ = buffer.data();
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      nftw(path_.c_str(), &RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

  // Names in the directory (not . and ..), sorted.
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    DIR* d = opendir(path_.c_str());
    if (d == nullptr) return names;
    while (const dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  // Creates (a chain of) sub-directories.
  std::string MakeDir(const std::string& name) const {
    std::string full = path_;
    size_t start = 0;
    while (start <= name.size()) {
      size_t slash = name.find('/', start);
      if (slash == std::string::npos) slash = name.size();
      full += "/" + name.substr(start, slash - start);
      mkdir(full.c_str(), 0755);
      start = slash + 1;
    }
    return full;
  }

 private:
  static int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
    remove(path);
    return 0;
  }
  std::string path_;
};

}  // namespace testing
}  // namespace kiln

#endif  // KILN_TESTS_TOOLCHAIN_SCRATCH_DIR_H_
