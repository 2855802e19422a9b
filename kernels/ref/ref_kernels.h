// Reference INT8 kernels: plain, readable C++ that defines what every
// optimized kernel must reproduce bit for bit. One op per file in this folder.
// They never allocate, never fail and touch only the memory their params
// describe; the runtime's verifier guarantees the params are consistent.
#ifndef KILN_KERNELS_REF_REF_KERNELS_H_
#define KILN_KERNELS_REF_REF_KERNELS_H_

#include <stdint.h>

#include "kernels/params.h"

namespace kiln {
namespace ref {

void Conv2D(const Conv2DParams& p, const int8_t* input, const int8_t* filter,
            const int32_t* bias, int8_t* output);

void FullyConnected(const FullyConnectedParams& p, const int8_t* input,
                    const int8_t* filter, const int32_t* bias, int8_t* output);

void Add(const AddParams& p, const int8_t* input1, const int8_t* input2,
         int8_t* output);

void AveragePool2D(const Pool2DParams& p, const int8_t* input, int8_t* output);

void MaxPool2D(const Pool2DParams& p, const int8_t* input, int8_t* output);

void GlobalAveragePool(const GlobalAveragePoolParams& p, const int8_t* input,
                       int8_t* output);

void Concat(const ConcatParams& p, const int8_t* const* inputs, int8_t* output);

void Softmax(const SoftmaxParams& p, const int8_t* input, int8_t* output);

void Logistic(const LogisticParams& p, const int8_t* input, int8_t* output);

void QuantizeFromUint8(const QuantizeIntParams& p, const uint8_t* input,
                       int8_t* output);

void QuantizeFromInt8(const QuantizeIntParams& p, const int8_t* input,
                      int8_t* output);

void QuantizeFromFloat(const QuantizeFloatParams& p, const float* input,
                       int8_t* output);

void Dequantize(const DequantizeParams& p, const int8_t* input, float* output);

}  // namespace ref
}  // namespace kiln

#endif  // KILN_KERNELS_REF_REF_KERNELS_H_
