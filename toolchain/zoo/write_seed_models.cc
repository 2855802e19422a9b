// Writes the reference models into a folder: the fuzzers' seed corpus
// (fuzz/corpus/kiln_fuzz_model) and sample models for `kiln inspect`.
//   kiln_write_seed_models DIR
#include <stdio.h>

#include <string>

#include "toolchain/atomic_file.h"
#include "toolchain/zoo/reference_models.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const struct {
    const char* file;
    kiln::ModelBuilder builder;
  } models[] = {
      {"trivial.kiln", kiln::zoo::TrivialModel()},
      {"mlp160.kiln", kiln::zoo::Mlp160(1, false)},
      {"mlp160_float_io.kiln", kiln::zoo::Mlp160(1, true)},
      {"blocknet.kiln", kiln::zoo::BlockNet(1)},
      {"all_ops.kiln", kiln::zoo::AllOpsModel(1)},
  };
  for (const auto& m : models) {
    std::string error;
    const std::string path = dir + "/" + m.file;
    if (!kiln::WriteFileAtomic(path, kiln::zoo::BuildOrDie(m.builder),
                               &error)) {
      fprintf(stderr, "%s: %s\n", path.c_str(), error.c_str());
      return 1;
    }
  }
  return 0;
}
