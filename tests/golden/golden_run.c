/* The runner of the golden-output check (scripts/check_golden.sh,
 * docs/reliability.md). Plain C99 against libkiln.a only, so it
 * cross-builds for AArch64 and runs under qemu like on the host.
 *
 *   golden_run isas               prints the runnable kernel paths
 *   golden_run gen MODEL N INPUT  writes N items of input (golden_gen.c)
 *   golden_run run [--once] MODEL INPUT N OUTPUTS DECISIONS
 *
 * `run` computes the N items four ways on the path kiln_init picks (KILN_ISA
 * forces one): one kiln_invoke with an arena for all N, then
 * kiln_invoke_parallel on 1, 2 and 3 contexts whose arenas hold kStep items
 * (so each range runs in many internal steps with a short last one; one
 * context is a plain kiln_invoke). All four must give the same bytes (exit 3
 * otherwise); those are written to OUTPUTS and DECISIONS in the serialization
 * of golden_io.h, and one summary line per head goes to stdout. --once runs
 * only the first way, for slow emulators (scripts/test_x86_fallback.sh): the
 * runs agreeing is a property of the runtime's splitting, checked natively
 * and under the AArch64 emulator on every path.
 * Exit 0 ok, 1 error (files, model), 2 usage, 3 runs disagree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/kiln.h"
#include "tests/golden/golden_gen.h"
#include "tests/golden/golden_io.h"

/* Small and odd, so that N splits into many steps with a short last one. */
enum { kStep = 5, kMaxContexts = 3, kMaxIo = 16 };

/* Everything allocated lives here, so every exit path can free it (the asan
 * ctest runs this program with LeakSanitizer). */
static struct {
  void* model;
  void* input_file;
  void* arenas[kMaxContexts + 1];
  void* inputs[kMaxIo];
  void* outputs[kMaxIo];
  kiln_decision* decisions;
  uint8_t* ref;   /* serialized outputs then decisions of the first run */
  uint8_t* bytes; /* the same for the run being compared */
} g;

static int finish(int code) {
  free(g.model);
  free(g.input_file);
  for (int i = 0; i <= kMaxContexts; ++i) free(g.arenas[i]);
  for (int i = 0; i < kMaxIo; ++i) {
    free(g.inputs[i]);
    free(g.outputs[i]);
  }
  free(g.decisions);
  free(g.ref);
  free(g.bytes);
  return code;
}

static int fail(const char* what, const char* detail) {
  fprintf(stderr, "golden_run: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  return finish(1);
}

static int parse_count(const char* s, size_t* n) {
  char* end = NULL;
  const unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || v == 0 || v > 1000000) return 1;
  *n = (size_t)v;
  return 0;
}

/* A context for `step` items per internal step, in arena slot `slot`. */
static kiln_status make_context(size_t model_len, size_t step, int slot,
                                kiln_context** ctx, kiln_error* err) {
  size_t bytes = 0;
  const kiln_status st = kiln_arena_size(g.model, model_len, step, &bytes, err);
  if (st != KILN_OK) return st;
  g.arenas[slot] = malloc(bytes);
  if (!g.arenas[slot]) {
    snprintf(err->message, sizeof err->message, "no memory for the arena");
    return KILN_ERR_ARENA_TOO_SMALL;
  }
  return kiln_init(g.model, model_len, g.arenas[slot], bytes, ctx, err);
}

static int cmd_isas(void) {
  const char* sep = "";
  for (int32_t i = 0; i < KILN_ISA_COUNT; ++i) {
    if ((kiln_supported_isas() >> i) & 1u) {
      printf("%s%s", sep, kiln_isa_name_of(i));
      sep = " ";
    }
  }
  printf("\n");
  return 0;
}

static int cmd_gen(const char* model_path, const char* count,
                   const char* out_path) {
  size_t model_len = 0, n = 0, total = 0;
  kiln_error err;
  kiln_context* ctx = NULL;
  if (parse_count(count, &n)) return fail("bad item count", count);
  g.model = golden_read_file(model_path, &model_len);
  if (!g.model) return fail("cannot read", model_path);
  if (make_context(model_len, 1, 0, &ctx, &err) != KILN_OK) {
    return fail(model_path, err.message);
  }
  const int32_t num_inputs = kiln_num_inputs(ctx);
  for (int32_t i = 0; i < num_inputs; ++i) {
    kiln_tensor_info in;
    kiln_get_input_info(ctx, i, &in);
    total += n * in.item_bytes;
  }
  g.bytes = malloc(total);
  if (!g.bytes) return fail("out of memory", NULL);
  size_t at = 0;
  for (int32_t i = 0; i < num_inputs && i < kMaxIo; ++i) {
    kiln_tensor_info in;
    kiln_get_input_info(ctx, i, &in);
    const size_t elements = in.item_bytes / golden_element_size(in.dtype);
    g.inputs[i] = malloc(n * in.item_bytes);
    if (!g.inputs[i]) return fail("out of memory", NULL);
    golden_fill_input(in.dtype, i, elements, n, g.inputs[i]);
    golden_encode(in.dtype, g.inputs[i], n * elements, g.bytes + at);
    at += n * in.item_bytes;
  }
  if (golden_write_file(out_path, g.bytes, total)) {
    return fail("cannot write", out_path);
  }
  return finish(0);
}

/* Serializes the current outputs and decisions of n items into dst. */
static void serialize(const kiln_context* ctx, size_t n, uint8_t* dst) {
  for (int32_t j = 0; j < kiln_num_outputs(ctx); ++j) {
    kiln_tensor_info out;
    kiln_get_output_info(ctx, j, &out);
    golden_encode(out.dtype, g.outputs[j],
                  n * out.item_bytes / golden_element_size(out.dtype), dst);
    dst += n * out.item_bytes;
  }
  golden_encode_decisions(g.decisions, n * (size_t)kiln_num_heads(ctx), dst);
}

/* Poisons the result buffers, so a run that skips writing something cannot
 * pass by leaving the previous run's bytes in place. */
static void poison(const kiln_context* ctx, size_t n) {
  for (int32_t j = 0; j < kiln_num_outputs(ctx); ++j) {
    kiln_tensor_info out;
    kiln_get_output_info(ctx, j, &out);
    memset(g.outputs[j], 0xa5, n * out.item_bytes);
  }
  memset(g.decisions, 0xa5,
         n * (size_t)kiln_num_heads(ctx) * sizeof(kiln_decision));
}

static const char* kind_name(kiln_confidence_kind kind) {
  switch (kind) {
    case KILN_CONFIDENCE_TOP1_PROB:
      return "top1_prob";
    case KILN_CONFIDENCE_TOPK_PROB:
      return "topk_prob";
    case KILN_CONFIDENCE_MARGIN:
      return "margin";
  }
  return "?";
}

static void print_summary(const kiln_context* ctx, size_t n, int once) {
  const int32_t heads = kiln_num_heads(ctx);
  if (once) {
    printf("path: %s; items: %zu; runs: invoke (step %zu)\n",
           kiln_isa_name(ctx), n, kiln_max_batch(ctx));
  } else {
    printf(
        "path: %s; items: %zu; runs: invoke (step %zu), parallel on 1/2/3"
        " contexts (step %d): identical\n",
        kiln_isa_name(ctx), n, kiln_max_batch(ctx), kStep);
  }
  for (int32_t h = 0; h < heads; ++h) {
    kiln_head_info info;
    kiln_get_head_info(ctx, h, &info);
    size_t fallbacks = 0;
    for (size_t i = 0; i < n; ++i) {
      fallbacks += g.decisions[i * (size_t)heads + (size_t)h].fallback != 0;
    }
    printf("head %s: %s, k %d, threshold %d, fallback %zu of %zu\n", info.name,
           kind_name(info.confidence), info.top_k, info.threshold, fallbacks,
           n);
  }
}

static int cmd_run(int once, const char* model_path, const char* input_path,
                   const char* count, const char* outputs_path,
                   const char* decisions_path) {
  size_t model_len = 0, input_len = 0, n = 0;
  kiln_error err;
  kiln_context* full = NULL;
  kiln_context* contexts[kMaxContexts] = {NULL, NULL, NULL};
  if (parse_count(count, &n)) return fail("bad item count", count);
  g.model = golden_read_file(model_path, &model_len);
  if (!g.model) return fail("cannot read", model_path);
  if (make_context(model_len, n, kMaxContexts, &full, &err) != KILN_OK ||
      make_context(model_len, kStep, 0, &contexts[0], &err) != KILN_OK) {
    return fail(model_path, err.message);
  }
  for (int i = 1; i < kMaxContexts; ++i) {
    size_t bytes = 0;
    kiln_arena_size(g.model, model_len, kStep, &bytes, &err);
    g.arenas[i] = malloc(bytes);
    if (!g.arenas[i] || kiln_init_like(contexts[0], g.arenas[i], bytes,
                                       &contexts[i], &err) != KILN_OK) {
      return fail("kiln_init_like", err.message);
    }
  }
  const int32_t num_inputs = kiln_num_inputs(full);
  const int32_t num_outputs = kiln_num_outputs(full);
  if (num_inputs > kMaxIo || num_outputs > kMaxIo) {
    return fail("too many graph inputs or outputs", NULL);
  }

  /* Inputs: the file holds each graph input's n items in turn. */
  g.input_file = golden_read_file(input_path, &input_len);
  if (!g.input_file) return fail("cannot read", input_path);
  size_t at = 0;
  for (int32_t i = 0; i < num_inputs; ++i) {
    kiln_tensor_info in;
    kiln_get_input_info(full, i, &in);
    if (input_len - at < n * in.item_bytes) break;
    g.inputs[i] = malloc(n * in.item_bytes);
    if (!g.inputs[i]) return fail("out of memory", NULL);
    golden_decode(in.dtype, (const uint8_t*)g.input_file + at,
                  n * in.item_bytes / golden_element_size(in.dtype),
                  g.inputs[i]);
    at += n * in.item_bytes;
  }
  if (at != input_len || (num_inputs > 0 && !g.inputs[num_inputs - 1])) {
    char why[120];
    snprintf(why, sizeof why, "%zu bytes, not %zu items of the model's inputs",
             input_len, n);
    return fail(input_path, why);
  }

  size_t total = 0;
  for (int32_t j = 0; j < num_outputs; ++j) {
    kiln_tensor_info out;
    kiln_get_output_info(full, j, &out);
    g.outputs[j] = malloc(n * out.item_bytes);
    if (!g.outputs[j]) return fail("out of memory", NULL);
    total += n * out.item_bytes;
  }
  const size_t outputs_bytes = total;
  const size_t decisions = n * (size_t)kiln_num_heads(full);
  total += decisions * GOLDEN_DECISION_BYTES;
  g.decisions = malloc(decisions ? decisions * sizeof(kiln_decision) : 1);
  g.ref = malloc(total ? total : 1);
  g.bytes = malloc(total ? total : 1);
  if (!g.decisions || !g.ref || !g.bytes) return fail("out of memory", NULL);

  const void* const* in = (const void* const*)g.inputs;
  void* const* out = g.outputs;
  poison(full, n);
  kiln_invoke(full, n, in, out, g.decisions);
  serialize(full, n, g.ref);
  for (int run = 1; !once && run <= kMaxContexts; ++run) {
    poison(full, n);
    kiln_invoke_parallel(contexts, run, n, in, out, g.decisions, NULL, NULL);
    serialize(full, n, g.bytes);
    if (memcmp(g.ref, g.bytes, total) != 0) {
      const int outs = memcmp(g.ref, g.bytes, outputs_bytes) != 0;
      fprintf(stderr,
              "golden_run: %s: path %s: the %s of kiln_invoke_parallel on %d "
              "context(s) in steps of %d differ from one kiln_invoke\n",
              model_path, kiln_isa_name(full), outs ? "outputs" : "decisions",
              run, kStep);
      return finish(3);
    }
  }
  if (golden_write_file(outputs_path, g.ref, outputs_bytes) ||
      golden_write_file(decisions_path, g.ref + outputs_bytes,
                        total - outputs_bytes)) {
    return fail("cannot write", outputs_path);
  }
  print_summary(full, n, once);
  return finish(0);
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "isas") == 0) return cmd_isas();
  if (argc == 5 && strcmp(argv[1], "gen") == 0) {
    return cmd_gen(argv[2], argv[3], argv[4]);
  }
  if (argc == 7 && strcmp(argv[1], "run") == 0) {
    return cmd_run(0, argv[2], argv[3], argv[4], argv[5], argv[6]);
  }
  if (argc == 8 && strcmp(argv[1], "run") == 0 &&
      strcmp(argv[2], "--once") == 0) {
    return cmd_run(1, argv[3], argv[4], argv[5], argv[6], argv[7]);
  }
  fprintf(stderr,
          "usage: %s isas\n"
          "       %s gen MODEL N INPUT_OUT\n"
          "       %s run [--once] MODEL INPUT N OUTPUTS_OUT DECISIONS_OUT\n",
          argv[0], argv[0], argv[0]);
  return 2;
}
