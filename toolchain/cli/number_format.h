// Numbers as short text that reads back exactly.
#ifndef KILN_TOOLCHAIN_CLI_NUMBER_FORMAT_H_
#define KILN_TOOLCHAIN_CLI_NUMBER_FORMAT_H_

#include <string>

namespace kiln {
namespace cli {

// The shortest %g text that parses back to the same value: 0.05f prints as
// "0.05", not "0.0500000007".
std::string ShortestFloat(float v);
std::string ShortestDouble(double v);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_NUMBER_FORMAT_H_
