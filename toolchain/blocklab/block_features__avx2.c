// kiln_block_features compiled for AVX2 (x86-64 builds of Kiln only; see
// block_features.c): the same source, renamed, built with -mavx2 and
// -ffp-contract=off. Everything it calls is static in this unit or libc, so
// no AVX2 copy of a shared function can reach baseline code.
#define KILN_BLOCK_FEATURES_ENTRY kiln_block_features__avx2
#include "toolchain/blocklab/block_features.c"
