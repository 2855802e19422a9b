/* Files and the little-endian golden serialization (golden_io.h). */
#include "tests/golden/golden_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The record layout below writes 2 * KILN_MAX_TOP_K + 3 words: a change of
 * KILN_MAX_TOP_K must change the documented format (and fails to compile). */
typedef char golden_decision_layout_check
    [(2 * KILN_MAX_TOP_K + 3) * 4 == GOLDEN_DECISION_BYTES ? 1 : -1];

void* golden_read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  void* data = NULL;
  long n = -1;
  *len = 0;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n > 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = aligned_alloc(64, ((size_t)n + 63) / 64 * 64);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  if (data) *len = (size_t)n;
  return data;
}

int golden_write_file(const char* path, const void* data, size_t len) {
  FILE* f = fopen(path, "wb");
  if (!f) return 1;
  const int ok = fwrite(data, 1, len, f) == len;
  return (fclose(f) == 0 && ok) ? 0 : 1;
}

size_t golden_element_size(kiln_dtype dtype) {
  return (dtype == KILN_INT32 || dtype == KILN_FLOAT32) ? 4 : 1;
}

static void put_le32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

void golden_encode(kiln_dtype dtype, const void* host, size_t count,
                   uint8_t* le) {
  if (golden_element_size(dtype) == 1) {
    memcpy(le, host, count);
    return;
  }
  /* memcpy through uint32_t: the float's bits, in this host's order. */
  for (size_t i = 0; i < count; ++i) {
    uint32_t v;
    memcpy(&v, (const uint8_t*)host + 4 * i, 4);
    put_le32(le + 4 * i, v);
  }
}

void golden_decode(kiln_dtype dtype, const uint8_t* le, size_t count,
                   void* host) {
  if (golden_element_size(dtype) == 1) {
    memcpy(host, le, count);
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    const uint32_t v = get_le32(le + 4 * i);
    memcpy((uint8_t*)host + 4 * i, &v, 4);
  }
}

void golden_encode_decisions(const kiln_decision* d, size_t count,
                             uint8_t* le) {
  for (size_t i = 0; i < count; ++i) {
    uint8_t* p = le + i * GOLDEN_DECISION_BYTES;
    for (int j = 0; j < KILN_MAX_TOP_K; ++j) {
      put_le32(p, (uint32_t)d[i].class_id[j]);
      p += 4;
    }
    for (int j = 0; j < KILN_MAX_TOP_K; ++j) {
      put_le32(p, (uint32_t)d[i].score[j]);
      p += 4;
    }
    put_le32(p, (uint32_t)d[i].k);
    put_le32(p + 4, (uint32_t)d[i].confidence);
    put_le32(p + 8, (uint32_t)d[i].fallback);
  }
}
