/* The codec's side of Kiln, in plain C: load a compiled block
 * side-information model (`kiln blocks`), cut an image into 8x8 blocks,
 * predict every block in one batched call and print, per block, each
 * decision's top-k candidates and whether to fall back to the full search.
 * Links libkiln.a and libm only (no C++ runtime).
 *
 *   block_predict MODEL.kiln IMAGE.ppm [--print N]
 *
 * IMAGE.ppm: binary PPM (P6, maxval 255). Window of a block (docs/
 * blocklab.md): rows y0-1..y0+7, columns x0-1..x0+8, RGB, 0 outside the
 * image. A model that takes the block's pixel statistics gets them from
 * kiln_block_features (toolchain/blocklab/block_features.c, plain C,
 * compiled into this program); a window model gets the window itself.
 * Exit 0 ok, 1 failure (bad model or image), 2 usage. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/kiln.h"
#include "toolchain/blocklab/block_features.h"

enum { kRows = 9, kCols = 10, kWindowBytes = kRows * kCols * 3 };

static const char* const kHeadNames[4] = {"predictor", "filter", "scan",
                                          "interleave"};

/* Reads a whole file into 64-byte aligned memory (the runtime wants the
 * model aligned). */
static void* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  void* data = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n > 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = aligned_alloc(64, ((size_t)n + 63) / 64 * 64);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  *len = n > 0 ? (size_t)n : 0;
  return data;
}

/* Skips whitespace and '#' comments, then reads a decimal number. */
static int ppm_number(const unsigned char* p, size_t len, size_t* at,
                      long* out) {
  for (;;) {
    while (*at < len && (p[*at] == ' ' || p[*at] == '\n' || p[*at] == '\r' ||
                         p[*at] == '\t'))
      ++*at;
    if (*at < len && p[*at] == '#') {
      while (*at < len && p[*at] != '\n') ++*at;
      continue;
    }
    break;
  }
  long v = 0;
  int digits = 0;
  while (*at < len && p[*at] >= '0' && p[*at] <= '9' && digits < 9) {
    v = v * 10 + (p[*at] - '0');
    ++*at;
    ++digits;
  }
  *out = v;
  return digits > 0;
}

/* Parses a P6 image; returns the pixel pointer inside `p` or NULL. */
static const unsigned char* parse_ppm(const unsigned char* p, size_t len,
                                      long* w, long* h) {
  size_t at = 2;
  long maxval = 0;
  if (len < 2 || p[0] != 'P' || p[1] != '6') return NULL;
  if (!ppm_number(p, len, &at, w) || !ppm_number(p, len, &at, h) ||
      !ppm_number(p, len, &at, &maxval))
    return NULL;
  if (*w < 1 || *h < 1 || *w > 32768 || *h > 32768 || maxval != 255)
    return NULL;
  ++at; /* the single whitespace after maxval */
  if (at > len || len - at < (size_t)(*w) * (size_t)(*h) * 3) return NULL;
  return p + at;
}

static void block_window(const unsigned char* rgb, long w, long h, long bx,
                         long by, unsigned char* out) {
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      const long x = bx * 8 - 1 + c, y = by * 8 - 1 + r;
      for (int ch = 0; ch < 3; ++ch) {
        out[(r * kCols + c) * 3 + ch] =
            (x < 0 || y < 0 || x >= w || y >= h)
                ? 0
                : rgb[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)ch];
      }
    }
  }
}

static int fail(const char* what, const char* why) {
  fprintf(stderr, "block_predict: %s%s%s\n", what, why ? ": " : "",
          why ? why : "");
  return 1;
}

/* Everything the program allocates, freed by main whatever happened. */
struct owned {
  void* model;
  unsigned char* image;
  void* arena;
  unsigned char* items;
  kiln_decision* decisions;
};

static int run(int argc, char** argv, struct owned* o) {
  long print = 4;
  if (argc == 5 && strcmp(argv[3], "--print") == 0) {
    print = strtol(argv[4], NULL, 10);
  } else if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.kiln IMAGE.ppm [--print N]\n", argv[0]);
    return 2;
  }
  size_t model_len = 0, image_len = 0;
  void* model = o->model = read_file(argv[1], &model_len);
  if (!model) return fail("cannot read the model", argv[1]);
  unsigned char* image = o->image = read_file(argv[2], &image_len);
  if (!image) return fail("cannot read the image", argv[2]);
  long w = 0, h = 0;
  const unsigned char* rgb = parse_ppm(image, image_len, &w, &h);
  if (!rgb) return fail("not a binary PPM (P6, maxval 255)", argv[2]);

  /* All heap use is here, before the first call; kiln_invoke never
   * allocates. */
  enum { kBatch = 1024 };
  kiln_error err;
  size_t arena_bytes = 0;
  if (kiln_arena_size(model, model_len, kBatch, &arena_bytes, &err) != KILN_OK)
    return fail("invalid model", err.message);
  void* arena = o->arena = aligned_alloc(64, (arena_bytes + 63) / 64 * 64);
  kiln_context* ctx = NULL;
  if (!arena ||
      kiln_init(model, model_len, arena, arena_bytes, &ctx, &err) != KILN_OK)
    return fail("invalid model", arena ? err.message : "out of memory");
  kiln_tensor_info in;
  kiln_get_input_info(ctx, 0, &in);
  const int32_t heads = kiln_num_heads(ctx);
  const int features = in.dtype == KILN_FLOAT32 && in.rank == 1 &&
                       in.dims[0] == KILN_BLOCK_FEATURES;
  const int window = in.dtype == KILN_UINT8 && in.item_bytes == kWindowBytes;
  if (kiln_num_inputs(ctx) != 1 || heads != 4 || !(features || window))
    return fail(
        "not a block model (4 heads; input: the block features or "
        "the uint8 9x10x3 window)",
        NULL);

  const long bw = (w + 7) / 8, bh = (h + 7) / 8;
  const size_t n = (size_t)bw * (size_t)bh;
  unsigned char* items = o->items = malloc(n * in.item_bytes);
  kiln_decision* decisions = o->decisions =
      calloc(n * (size_t)heads, sizeof(kiln_decision));
  if (!items || !decisions) return fail("out of memory", NULL);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long by = 0; by < bh; ++by) {
    for (long bx = 0; bx < bw; ++bx) {
      const size_t b = (size_t)by * (size_t)bw + (size_t)bx;
      unsigned char win[kWindowBytes];
      block_window(rgb, w, h, bx, by, window ? items + b * kWindowBytes : win);
      if (features) {
        const int cw = w - bx * 8 < 8 ? (int)(w - bx * 8) : 8;
        const int ch = h - by * 8 < 8 ? (int)(h - by * 8) : 8;
        kiln_block_features(win, cw, ch,
                            (float*)(void*)(items + b * in.item_bytes));
      }
    }
  }
  const void* inputs[1] = {items};
  if (kiln_invoke(ctx, n, inputs, NULL, decisions) != KILN_OK)
    return fail("kiln_invoke failed", NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
                     (double)(t1.tv_nsec - t0.tv_nsec)) /
                    1e3;

  size_t fallbacks = 0;
  for (size_t b = 0; b < n; ++b) {
    int fb = 0;
    for (int32_t hd = 0; hd < heads; ++hd)
      fb |= decisions[b * (size_t)heads + (size_t)hd].fallback;
    fallbacks += (size_t)fb;
    if ((long)b >= print) continue;
    printf("block %zu (x %ld, y %ld)%s\n", b, (long)(b % (size_t)bw) * 8,
           (long)(b / (size_t)bw) * 8, fb ? "  FALLBACK: full search" : "");
    for (int32_t hd = 0; hd < heads; ++hd) {
      const kiln_decision* d = &decisions[b * (size_t)heads + (size_t)hd];
      printf("  %-10s", kHeadNames[hd]);
      for (int32_t j = 0; j < d->k; ++j) {
        const char* label = kiln_head_label(ctx, hd, d->class_id[j]);
        printf(" %s", label ? label : "?");
      }
      printf("  (confidence %d%s)\n", d->confidence,
             d->fallback ? ", unsure" : "");
    }
  }
  printf(
      "%zu blocks (%ldx%ld), path %s: %.1f us (inputs and one batched "
      "call), %.3f us/block; fallback %zu (%.1f%%)\n",
      n, w, h, kiln_isa_name(ctx), us, us / (double)n, fallbacks,
      100.0 * (double)fallbacks / (double)n);
  return 0;
}

int main(int argc, char** argv) {
  struct owned o = {NULL, NULL, NULL, NULL, NULL};
  const int rc = run(argc, argv, &o);
  free(o.decisions);
  free(o.items);
  free(o.arena);
  free(o.image);
  free(o.model);
  return rc;
}
