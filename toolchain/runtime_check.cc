#include "toolchain/runtime_check.h"

#include <vector>

#include "kiln/kiln.h"

namespace kiln {
namespace {

std::string Describe(kiln_status status, const kiln_error& err) {
  std::string s = kiln_status_string(status);
  if (err.message[0] != '\0') s += std::string(": ") + err.message;
  return s;
}

}  // namespace

bool RuntimeVerify(const AlignedBytes& model, std::string* error) {
  size_t bytes = 0;
  if (!RuntimeArenaSize(model, 1, &bytes, error)) return false;
  std::vector<uint8_t> arena(bytes);
  kiln_context* ctx = nullptr;
  kiln_error err{};
  const kiln_status status = kiln_init(model.data(), model.size(), arena.data(),
                                       arena.size(), &ctx, &err);
  if (status == KILN_OK) return true;
  *error = Describe(status, err);
  return false;
}

bool RuntimeArenaSize(const AlignedBytes& model, size_t batch,
                      size_t* arena_bytes, std::string* error) {
  kiln_error err{};
  const kiln_status status =
      kiln_arena_size(model.data(), model.size(), batch, arena_bytes, &err);
  if (status == KILN_OK) return true;
  *error = Describe(status, err);
  return false;
}

}  // namespace kiln
