// Reference models built from seeded random weights with ModelBuilder: the
// shapes of the models Kiln is measured on (see ../shared/peers), used by the
// tests, the benchmarks, the fuzzers' seed corpora and the demo. Same seed,
// same bytes.
#ifndef KILN_TOOLCHAIN_ZOO_REFERENCE_MODELS_H_
#define KILN_TOOLCHAIN_ZOO_REFERENCE_MODELS_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "toolchain/model_builder.h"

namespace kiln {
namespace zoo {

// int8 [160] -> Reshape -> int8 [160]: the runtime's fixed cost per call.
ModelBuilder TrivialModel();

// mlp160: 160 -> 256 -> 128 -> 8 with ReLU (74,752 MACs). With float_io the
// input is float32 (Quantize) and a float32 copy of the logits (Dequantize)
// is a second output. The int8 logits carry a head "class" (top-3,
// top-1 probability >= 0.5).
ModelBuilder Mlp160(uint32_t seed, bool float_io);

// blocknet: uint8 8x8x3 pixels -> Quantize -> 3 depthwise-separable layers
// 3 -> 32 -> 64 -> 64 (dw3x3 + ReLU, pw1x1 + ReLU) -> global average pool ->
// 4 heads 64 -> 32 -> {8, 6, 8, 16} ("predictor", "filter", "scan",
// "entropy"), each with a top-k decision policy.
ModelBuilder BlockNet(uint32_t seed);

// resnet18: torchvision ResNet-18 on int8 224x224x3 NHWC (scale 1/32, zero
// point 0: N(0,1) inputs fit), BatchNorm folded away: 7x7/2 conv + ReLU,
// 3x3/2 max pool, 4 stages of 2 basic blocks (64, 128, 256, 512 channels;
// the first block of stages 2-4 strides by 2 and has a 1x1/2 conv on its
// shortcut), Add + ReLU, global average pool, FC 512 -> 1000 logits (the
// only output, no head). 1,814,073,344 MACs, as ../shared/peers counts them.
// Output scales follow the He-init second moments, so activations neither
// vanish nor saturate with depth.
ModelBuilder ResNet18(uint32_t seed);

// Every operator of the format at least once, with float and uint8 inputs,
// strided/padded/grouped convolutions, both pools, Add, Concat with and
// without requantization, Reshape, Softmax, Logistic and Dequantize.
ModelBuilder AllOpsModel(uint32_t seed);

// Serializes a builder's model; aborts with the builder's error (these
// models are fixed, so an error is a bug in the toolchain).
std::vector<uint8_t> BuildOrDie(const ModelBuilder& builder);

}  // namespace zoo
}  // namespace kiln

#endif  // KILN_TOOLCHAIN_ZOO_REFERENCE_MODELS_H_
