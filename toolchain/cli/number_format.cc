#include "toolchain/cli/number_format.h"

#include <stdio.h>
#include <stdlib.h>

namespace kiln {
namespace cli {

std::string ShortestFloat(float v) {
  char buf[40];
  for (int precision = 1; precision <= 9; ++precision) {
    snprintf(buf, sizeof(buf), "%.*g", precision, static_cast<double>(v));
    if (strtof(buf, nullptr) == v) break;
  }
  return buf;
}

std::string ShortestDouble(double v) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace cli
}  // namespace kiln
