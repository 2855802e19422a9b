// The data sources use the STL (and so may see std::bad_alloc on a huge but
// genuine file); their public functions return bool + an error string and
// never let an exception escape. This is the wrapper that makes sure.
#ifndef KILN_TOOLCHAIN_DATA_CATCH_ERRORS_H_
#define KILN_TOOLCHAIN_DATA_CATCH_ERRORS_H_

#include <exception>
#include <new>
#include <string>

namespace kiln {
namespace data {

// Returns body(), or false with *error = "<what>: out of memory" (or the
// exception's message) if it throws.
template <typename Body>
bool CatchErrors(const std::string& what, std::string* error, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    *error = what + ": out of memory";
  } catch (const std::exception& e) {
    *error = what + ": " + e.what();
  } catch (...) {
    *error = what + ": unexpected error";
  }
  return false;
}

}  // namespace data
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_DATA_CATCH_ERRORS_H_
