/* The C API from C99, linked with the C compiler against libkiln.a only
 * (no libstdc++): loads a model file, runs a batch in several chunks and
 * checks the decisions against a one-item-at-a-time run.
 *   kiln_c_api_test MODEL.kiln */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/kiln.h"

static int fail(const char* what, const kiln_error* err) {
  fprintf(stderr, "FAIL %s: %s\n", what, err ? err->message : "");
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.kiln\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[1], "rb");
  if (!f) return fail("open model", NULL);
  fseek(f, 0, SEEK_END);
  const long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  void* model = aligned_alloc(64, ((size_t)len + 63) / 64 * 64);
  if (!model || fread(model, 1, (size_t)len, f) != (size_t)len) {
    return fail("read model", NULL);
  }
  fclose(f);

  kiln_error err;
  size_t small_bytes = 0, one_bytes = 0;
  if (kiln_arena_size(model, (size_t)len, 3, &small_bytes, &err) != KILN_OK ||
      kiln_arena_size(model, (size_t)len, 1, &one_bytes, &err) != KILN_OK) {
    return fail("arena size", &err);
  }
  void* arena = malloc(small_bytes);
  void* arena_one = malloc(one_bytes);
  kiln_context* ctx = NULL;
  kiln_context* one = NULL;
  if (kiln_init(model, (size_t)len, arena, small_bytes, &ctx, &err) != KILN_OK)
    return fail("init", &err);
  if (kiln_init_like(ctx, arena_one, one_bytes, &one, &err) != KILN_OK)
    return fail("init_like", &err);
  if (kiln_max_batch(ctx) != 3 || kiln_max_batch(one) != 1)
    return fail("max batch", NULL);
  if (kiln_num_inputs(ctx) != 1 || kiln_num_heads(ctx) < 1)
    return fail("model shape (expects one input and a head)", NULL);

  kiln_tensor_info in;
  kiln_get_input_info(ctx, 0, &in);
  enum { kItems = 10 };
  unsigned char* input = malloc(kItems * in.item_bytes);
  for (size_t i = 0; i < kItems * in.item_bytes; ++i) {
    input[i] = (unsigned char)(i * 131 + 7);
  }
  const int32_t heads = kiln_num_heads(ctx);
  kiln_decision* batch = calloc(kItems * heads, sizeof(kiln_decision));
  kiln_decision* single = calloc(kItems * heads, sizeof(kiln_decision));
  const void* inputs[1] = {input};
  if (kiln_invoke(ctx, kItems, inputs, NULL, batch) != KILN_OK)
    return fail("invoke batch", NULL);
  for (int i = 0; i < kItems; ++i) {
    const void* item[1] = {input + i * in.item_bytes};
    if (kiln_invoke(one, 1, item, NULL, single + i * heads) != KILN_OK)
      return fail("invoke single", NULL);
  }
  if (memcmp(batch, single, kItems * heads * sizeof(kiln_decision)) != 0)
    return fail("batched and single decisions differ", NULL);
  kiln_head_info h;
  kiln_get_head_info(ctx, 0, &h);
  printf("ok: %d items, head '%s' top-1 of item 0 = %d (%s), confidence %d\n",
         kItems, h.name, batch[0].class_id[0],
         kiln_head_label(ctx, 0, batch[0].class_id[0])
             ? kiln_head_label(ctx, 0, batch[0].class_id[0])
             : "-",
         batch[0].confidence);
  /* The kernel path and the runnable ones: scripts/test_x86_fallback.sh
   * checks them under emulated CPUs. */
  printf("path: %s; runnable:", kiln_isa_name(ctx));
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((kiln_supported_isas() >> i) & 1u) printf(" %s", kiln_isa_name_of(i));
  }
  printf("\n");
  free(single);
  free(batch);
  free(input);
  free(arena_one);
  free(arena);
  free(model);
  return 0;
}
