// FullyConnected through the GEMM driver: a FullyConnected over a batch is
// a 1x1 convolution over `batch` pixels of in_features channels (the same
// rows, read in place where the kernel allows, else copied in tiles).
#include "kernels/driver/drivers.h"

namespace kiln {

void RunFullyConnectedGemm(const KernelTable& table,
                           const FullyConnectedParams& p, const int8_t* input,
                           const PackedGemm& w, int8_t* output,
                           uint8_t* scratch) {
  Conv2DParams c = {};
  c.batch = p.batch;
  c.in_h = c.in_w = c.out_h = c.out_w = 1;
  c.in_c = p.in_features;
  c.out_c = p.out_features;
  c.kernel_h = c.kernel_w = 1;
  c.stride_h = c.stride_w = 1;
  c.dilation_h = c.dilation_w = 1;
  c.groups = 1;
  c.input_zero_point = p.input_zero_point;
  c.output_zero_point = p.output_zero_point;
  c.clamp = p.clamp;
  c.requant = p.requant;
  RunConv2DGemm(table, c, input, w, output, scratch);
}

}  // namespace kiln
