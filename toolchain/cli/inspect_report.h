// What `kiln inspect` prints, in text or JSON.
#ifndef KILN_TOOLCHAIN_CLI_INSPECT_REPORT_H_
#define KILN_TOOLCHAIN_CLI_INSPECT_REPORT_H_

#include <stddef.h>
#include <stdio.h>

#include <string>

#include "toolchain/model_def.h"

namespace kiln {
namespace cli {

// Facts about the file and the runtime's view of it, next to the ModelDef.
struct InspectFacts {
  std::string path;
  size_t file_bytes = 0;
  size_t arena_bytes_batch1 = 0;  // kiln_arena_size(batch 1)
  size_t batch = 1;               // --batch
  size_t arena_bytes_batch = 0;   // kiln_arena_size(batch)
};

void PrintInspectText(const ModelDef& model, const InspectFacts& facts,
                      FILE* out);
void PrintInspectJson(const ModelDef& model, const InspectFacts& facts,
                      FILE* out);

// Number of requantization entries (multiplier/shift pairs) of an operator.
size_t RequantCount(const OperatorDef& op);

// Bytes per item of an activation or bytes of a constant, as far as the
// shape allows (the model is verified, so it does).
size_t TensorBytes(const TensorDef& tensor);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_CLI_INSPECT_REPORT_H_
