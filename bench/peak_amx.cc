// AMX tdpbusd peak (bench/peak.h). Compiled with -mamx-tile -mamx-int8.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "bench/peak.h"

namespace kiln {
namespace bench {
namespace {

// The 64-byte tile configuration (palette 1).
struct TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

}  // namespace

uint64_t PeakLoopAmx(uint64_t iters) {
  TileConfig cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {  // every tile 16 rows x 64 bytes
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  alignas(64) uint8_t operands[16 * 64];
  memset(operands, 1, sizeof(operands));
  alignas(64) int32_t result[16 * 16];
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, operands, 64);
  _tile_loadd(5, operands, 64);
  _tile_loadd(6, operands, 64);
  _tile_loadd(7, operands, 64);
  // A 2x2 block of accumulators over two A and two B tiles: 4 independent
  // tdpbusd per iteration.
  for (uint64_t i = 0; i < iters; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, result, 64);
  _tile_stored(1, result, 64);
  _tile_stored(2, result, 64);
  _tile_stored(3, result, 64);
  _tile_release();
  __asm__ volatile("" : : "r"(result) : "memory");
  return iters * 4 * 16 * 16 * 64;
}

}  // namespace bench
}  // namespace kiln
