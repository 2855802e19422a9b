// The flatc-generated reader of formats/kiln.fbs, the runtime's only
// compile-time dependency. GCC 12 reports a false -Warray-bounds inside
// flatbuffers' Vector accessors (the class has no data members of its own);
// it is silenced here, for those headers only.
#ifndef KILN_RUNTIME_SRC_SCHEMA_H_
#define KILN_RUNTIME_SRC_SCHEMA_H_

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#include "formats/kiln_generated.h"
#pragma GCC diagnostic pop

#endif  // KILN_RUNTIME_SRC_SCHEMA_H_
