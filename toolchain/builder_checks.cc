#include "toolchain/builder_checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include <stdexcept>

#include "kiln/kiln.h"

namespace kiln {
namespace builder_internal {

std::string Fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  return buf;
}

void CheckShape(const std::vector<int32_t>& shape, const std::string& name) {
  if (shape.empty() || shape.size() > KILN_MAX_RANK) {
    throw std::invalid_argument(Fmt("tensor '%s' has rank %zu, not 1..%d",
                                    name.c_str(), shape.size(), KILN_MAX_RANK));
  }
  int64_t count = 1;
  for (int32_t d : shape) {
    if (d < 1) {
      throw std::invalid_argument(Fmt("tensor '%s' has a dimension %d < 1",
                                      name.c_str(), static_cast<int>(d)));
    }
    count *= d;
    // Far beyond any model the runtime runs; keeps later arithmetic exact.
    if (count > (int64_t(1) << 31)) {
      throw std::invalid_argument(
          Fmt("tensor '%s' is too large", name.c_str()));
    }
  }
}

void CheckQuant(QuantParams q, DType dtype, const char* role) {
  // Normal, as the runtime requires: a subnormal scale has lost precision.
  if (!(q.scale > 0.0f) || !isnormal(q.scale)) {
    throw std::invalid_argument(
        Fmt("%s scale %g is not a positive normal float", role,
            static_cast<double>(q.scale)));
  }
  const int32_t lo = dtype == DType::kUInt8 ? 0 : -128;
  const int32_t hi = dtype == DType::kUInt8 ? 255 : 127;
  if (q.zero_point < lo || q.zero_point > hi) {
    throw std::invalid_argument(Fmt("%s zero point %d is outside [%d, %d]",
                                    role, static_cast<int>(q.zero_point),
                                    static_cast<int>(lo),
                                    static_cast<int>(hi)));
  }
}

QuantParams QuantOf(const TensorDef& t) {
  if (!t.quantization || t.quantization->scale.size() != 1 ||
      t.quantization->zero_point.size() != 1) {
    throw std::invalid_argument("tensor '" + t.name +
                                "' has no per-tensor quantization");
  }
  return {t.quantization->scale[0], t.quantization->zero_point[0]};
}

QuantizationDef PerTensor(QuantParams q) {
  return QuantizationDef{{q.scale}, {q.zero_point}, 0};
}

int64_t ElementCount(const std::vector<int32_t>& shape) {
  int64_t n = 1;
  for (int32_t d : shape) n *= d;
  return n;
}

namespace {

bool IsDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A numeric identifier: digits without a leading zero (except "0" itself).
bool IsNumber(const std::string& s) {
  return IsDigits(s) && (s.size() == 1 || s[0] != '0');
}

// Dot-separated non-empty identifiers of [0-9A-Za-z-]; in a pre-release,
// numeric identifiers must not have leading zeros.
bool AreIdentifiers(const std::string& s, bool pre_release) {
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string id = s.substr(start, dot - start);
    if (id.empty() || id.find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVW"
                                           "XYZabcdefghijklmnopqrstuvwxyz-") !=
                          std::string::npos) {
      return false;
    }
    if (pre_release && IsDigits(id) && !IsNumber(id)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

bool IsSemanticVersion(const std::string& version) {
  std::string core = version, pre, build;
  const size_t plus = core.find('+');
  if (plus != std::string::npos) {
    build = core.substr(plus + 1);
    core.resize(plus);
    if (!AreIdentifiers(build, false)) return false;
  }
  const size_t dash = core.find('-');
  if (dash != std::string::npos) {
    pre = core.substr(dash + 1);
    core.resize(dash);
    if (!AreIdentifiers(pre, true)) return false;
  }
  const size_t dot1 = core.find('.');
  const size_t dot2 =
      dot1 == std::string::npos ? dot1 : core.find('.', dot1 + 1);
  if (dot2 == std::string::npos) return false;
  return IsNumber(core.substr(0, dot1)) &&
         IsNumber(core.substr(dot1 + 1, dot2 - dot1 - 1)) &&
         IsNumber(core.substr(dot2 + 1));
}

}  // namespace builder_internal
}  // namespace kiln
