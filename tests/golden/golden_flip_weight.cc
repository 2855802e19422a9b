// Test helper for golden.catches_changed_output: copies a model and changes
// one weight byte, found through the FlatBuffers API (not a fixed offset, so
// it keeps working when the model is regenerated):
//
//   golden_flip_weight IN.kiln OUT.kiln
//
// The byte is weight 0 of the last FullyConnected or Conv2D operator (the
// one nearest the logits, so the change reaches the outputs without passing
// another ReLU). It is XORed with 0x80: the int8 weight moves by 128, the
// largest change one byte can make. Weights are not checked by value
// (the accumulator bound assumes |w| <= 128), so the model stays valid.
#include <stdio.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/kiln_generated.h"

namespace {

int Fail(const std::string& message) {
  fprintf(stderr, "golden_flip_weight: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IN.kiln OUT.kiln\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) return Fail(std::string("cannot read ") + argv[1]);
  const std::vector<char> file((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  // The verifier wants the runtime's alignment: work on an aligned copy.
  std::vector<uint64_t> aligned((file.size() + 7) / 8);
  uint8_t* bytes = reinterpret_cast<uint8_t*>(aligned.data());
  std::copy(file.begin(), file.end(), bytes);

  flatbuffers::Verifier verifier(bytes, file.size());
  if (!kiln::fb::VerifyModelBuffer(verifier)) {
    return Fail(std::string(argv[1]) + " is not a valid model file");
  }
  const kiln::fb::Model* model = kiln::fb::GetModel(bytes);
  const kiln::fb::Operator* target = nullptr;
  if (model->operators()) {
    for (const kiln::fb::Operator* op : *model->operators()) {
      const auto kind = op->options_type();
      if ((kind == kiln::fb::OperatorOptions::FullyConnectedOptions ||
           kind == kiln::fb::OperatorOptions::Conv2DOptions) &&
          op->inputs() && op->inputs()->size() >= 2) {
        target = op;
      }
    }
  }
  if (!target) return Fail("no FullyConnected or Conv2D operator");
  const uint32_t weights = target->inputs()->Get(1);
  if (!model->tensors() || weights >= model->tensors()->size()) {
    return Fail("weights tensor index out of range");
  }
  const kiln::fb::Tensor* tensor = model->tensors()->Get(weights);
  const uint32_t buffer = tensor->buffer();
  if (!model->buffers() || buffer == 0 || buffer >= model->buffers()->size() ||
      !model->buffers()->Get(buffer)->data() ||
      model->buffers()->Get(buffer)->data()->size() == 0) {
    return Fail("the weights tensor has no constant buffer");
  }
  const uint8_t* data = model->buffers()->Get(buffer)->data()->data();
  const size_t offset = static_cast<size_t>(data - bytes);
  const uint8_t before = bytes[offset];
  bytes[offset] = static_cast<uint8_t>(before ^ 0x80u);

  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes),
            static_cast<std::streamsize>(file.size()));
  out.close();
  if (!out) return Fail(std::string("cannot write ") + argv[2]);
  printf(
      "flipped weight 0 of operator '%s' (tensor '%s') at file offset %zu: "
      "0x%02x -> 0x%02x\n",
      target->name() ? target->name()->c_str() : "?",
      tensor->name() ? tensor->name()->c_str() : "?", offset, before,
      bytes[offset]);
  return 0;
}
