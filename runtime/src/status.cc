// Status names and error formatting. No global mutable state: messages are
// written into the caller's kiln_error.
#include <stdarg.h>
#include <stdio.h>

#include "runtime/src/internal.h"

extern "C" const char* kiln_status_string(kiln_status status) {
  switch (status) {
    case KILN_OK:
      return "ok";
    case KILN_ERR_INVALID_ARGUMENT:
      return "invalid argument";
    case KILN_ERR_MODEL_ALIGNMENT:
      return "model bytes misaligned";
    case KILN_ERR_NOT_A_MODEL:
      return "not a Kiln model";
    case KILN_ERR_FLATBUFFER:
      return "corrupt model file";
    case KILN_ERR_VERSION:
      return "model needs a newer runtime";
    case KILN_ERR_LIMITS:
      return "model exceeds runtime limits";
    case KILN_ERR_TENSOR_INDEX:
      return "tensor index out of range";
    case KILN_ERR_BUFFER_INDEX:
      return "buffer index invalid";
    case KILN_ERR_SHAPE:
      return "invalid shape";
    case KILN_ERR_BUFFER_SIZE:
      return "constant size mismatch";
    case KILN_ERR_DTYPE:
      return "invalid element type";
    case KILN_ERR_QUANTIZATION:
      return "invalid quantization";
    case KILN_ERR_REQUANT:
      return "invalid requantization parameters";
    case KILN_ERR_OPERATOR:
      return "invalid operator";
    case KILN_ERR_ACCUMULATOR:
      return "accumulator may overflow";
    case KILN_ERR_GRAPH:
      return "invalid graph";
    case KILN_ERR_PLAN:
      return "invalid memory plan";
    case KILN_ERR_HEAD:
      return "invalid head or decision policy";
    case KILN_ERR_TABLE:
      return "invalid lookup table";
    case KILN_ERR_ARENA_TOO_SMALL:
      return "arena too small";
    case KILN_ERR_OVERFLOW:
      return "size overflow";
    case KILN_ERR_UNSUPPORTED:
      return "kernel path not available";
    case KILN_ERR_PREPROCESS:
      return "invalid preprocessing spec";
    case KILN_ERR_NO_PREPROCESS:
      return "no preprocessing spec for this data";
  }
  return "unknown status";
}

namespace kiln {
namespace rt {

kiln_status SetError(kiln_error* err, kiln_status code, const char* fmt, ...) {
  if (err != nullptr) {
    err->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);
  }
  return code;
}

}  // namespace rt
}  // namespace kiln
