// Replays fuzz inputs without libFuzzer: a main() that feeds every file of
// the directories (or files) on its command line to the target's
// LLVMFuzzerTestOneInput, in sorted order. ctest runs it over each target's
// seed corpus and its fuzz/regressions/<target> directory in the gcc and
// ASan builds (fuzz/CMakeLists.txt), so every input that ever crashed stays
// a test. A crash or abort fails the test; the input being run is printed
// first so the log names it. A missing directory counts as empty (a
// target's regressions directory exists only once it has found a bug), but
// no inputs at all is an error: the corpus path was wrong.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Regular files under `arg` (itself, if it is a file), README*s excluded.
void Collect(const fs::path& arg, std::vector<fs::path>* files) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    files->push_back(arg);
    return;
  }
  if (!fs::is_directory(arg, ec)) {
    printf("%s: not present, no inputs\n", arg.c_str());
    return;
  }
  for (const auto& entry : fs::recursive_directory_iterator(arg, ec)) {
    if (!entry.is_regular_file()) continue;
    if (entry.path().filename().string().rfind("README", 0) == 0) continue;
    files->push_back(entry.path());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) Collect(argv[i], &files);
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    fprintf(stderr, "no inputs found in the paths given\n");
    return 1;
  }
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      fprintf(stderr, "%s: cannot read\n", path.c_str());
      return 1;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    printf("replay %s (%zu bytes)\n", path.c_str(), bytes.size());
    fflush(stdout);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                           bytes.size());
  }
  printf("%zu inputs replayed, no crash\n", files.size());
  return 0;
}
