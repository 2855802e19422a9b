/* Kiln runtime C API (C99). See docs/runtime.md.
 *
 * Life cycle:
 *   1. kiln_arena_size(model, len, batch, &bytes, &err) tells how much memory
 *      a context needs to run `batch` items per internal step (structural
 *      checks only).
 *   2. kiln_init(model, len, arena, arena_len, &ctx, &err) verifies the model
 *      (FlatBuffers verifier, then semantic checks) and builds a context inside
 *      the caller's arena. It may fail with an error code and a message.
 *   3. kiln_invoke(ctx, n, inputs, outputs, decisions) runs n items, in chunks
 *      of at most kiln_max_batch(ctx). It never allocates and cannot fail on
 *      valid arguments.
 *
 * The runtime allocates nothing, keeps no global state and throws nothing.
 * The model bytes must stay alive and unchanged while any context uses them;
 * they are never written. Several contexts (one per thread, each with its own
 * arena) may share one model. A context is not safe to use from two threads
 * at once.
 */
#ifndef KILN_KILN_H_
#define KILN_KILN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Highest model-format version this runtime reads. */
#define KILN_RUNTIME_FORMAT_VERSION 2
#define KILN_VERSION_STRING "0.1.0"

/* Most candidates a decision carries. */
#define KILN_MAX_TOP_K 16
/* Largest tensor rank (per item, batch excluded). */
#define KILN_MAX_RANK 6
/* The model bytes must start on this boundary (int32 data is read in place). */
#define KILN_MODEL_ALIGNMENT 16
/* kiln_arena_size includes slack for an arena with any alignment. */
#define KILN_ARENA_ALIGNMENT 64

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERR_INVALID_ARGUMENT = 1, /* null pointer, zero size, bad index */
  KILN_ERR_MODEL_ALIGNMENT = 2,  /* model bytes not 16-byte aligned */
  KILN_ERR_NOT_A_MODEL = 3,      /* too short or wrong file identifier */
  KILN_ERR_FLATBUFFER = 4,       /* FlatBuffers verifier rejected the bytes */
  KILN_ERR_VERSION = 5,          /* needs a newer runtime */
  KILN_ERR_LIMITS = 6,           /* more tensors/operators/etc. than allowed */
  KILN_ERR_TENSOR_INDEX = 7,     /* a tensor index out of range */
  KILN_ERR_BUFFER_INDEX = 8,     /* a buffer index out of range or misused */
  KILN_ERR_SHAPE = 9,            /* bad dims, or shapes that do not fit an op */
  KILN_ERR_BUFFER_SIZE = 10,     /* constant bytes != shape x element size */
  KILN_ERR_DTYPE = 11,           /* element type not allowed there */
  KILN_ERR_QUANTIZATION = 12,    /* scale not finite/positive, bad zero point */
  KILN_ERR_REQUANT = 13,         /* multiplier/shift out of range or not
                                    matching the float scales */
  KILN_ERR_OPERATOR = 14,        /* arity, options or parameters of an op */
  KILN_ERR_ACCUMULATOR = 15,     /* int32 accumulator could overflow */
  KILN_ERR_GRAPH = 16,           /* tensor read before written, written twice,
                                    bad graph inputs/outputs */
  KILN_ERR_PLAN = 17,            /* memory plan out of bounds, misaligned or
                                    overlapping live tensors */
  KILN_ERR_HEAD = 18,            /* head or decision policy inconsistent */
  KILN_ERR_TABLE = 19,           /* lookup table malformed */
  KILN_ERR_ARENA_TOO_SMALL = 20, /* arena cannot hold one item */
  KILN_ERR_OVERFLOW = 21,        /* a size computation would overflow */
  KILN_ERR_UNSUPPORTED = 22,     /* the kernel path forced by KILN_ISA is not
                                    compiled in or this CPU cannot run it */
  KILN_ERR_PREPROCESS = 23,      /* preprocessing spec invalid or not matching
                                    the graph input */
  KILN_ERR_NO_PREPROCESS = 24    /* the model has no preprocessing spec for
                                    this kind of data (none, or features vs
                                    image) */
} kiln_status;

typedef struct kiln_error {
  kiln_status code;
  char message[200];
} kiln_error;

typedef enum kiln_dtype {
  KILN_INT8 = 0,
  KILN_UINT8 = 1,
  KILN_INT32 = 2,
  KILN_FLOAT32 = 3
} kiln_dtype;

typedef enum kiln_confidence_kind {
  KILN_CONFIDENCE_TOP1_PROB = 0, /* Q16 probability of the top-1 class */
  KILN_CONFIDENCE_TOPK_PROB = 1, /* Q16 summed probability of the top-k */
  KILN_CONFIDENCE_MARGIN = 2     /* top-1 minus top-2 logit, in steps */
} kiln_confidence_kind;

/* One item's answer for one head. */
typedef struct kiln_decision {
  int32_t class_id[KILN_MAX_TOP_K]; /* best first; ties -> lower id first */
  int32_t score[KILN_MAX_TOP_K];    /* quantized logit of each candidate */
  int32_t k;                        /* valid entries in class_id/score */
  int32_t confidence;               /* in the policy's integer domain */
  int32_t fallback;                 /* 1: do not trust, run the full search */
} kiln_decision;

typedef struct kiln_tensor_info {
  const char* name;
  kiln_dtype dtype;
  int32_t rank; /* per item */
  int32_t dims[KILN_MAX_RANK];
  size_t item_bytes;
  float scale; /* 0 when not quantized (float tensors) */
  int32_t zero_point;
} kiln_tensor_info;

typedef struct kiln_head_info {
  const char* name;
  int32_t output_index; /* which graph output carries the logits */
  int32_t num_classes;
  int32_t top_k;
  kiln_confidence_kind confidence;
  int32_t threshold;    /* fallback when confidence < threshold */
  float threshold_real; /* the real value it was derived from */
} kiln_head_info;

typedef struct kiln_context kiln_context;

/* Bytes of arena a context needs to process `batch` items per step.
 * Checks the file's structure (alignment, identifier, FlatBuffers verifier,
 * version, limits, plan sizes) but not its semantics, which need the arena:
 * kiln_init does the full verification. On failure *bytes is 0 and err says
 * why. */
kiln_status kiln_arena_size(const void* model, size_t model_len, size_t batch,
                            size_t* bytes, kiln_error* err);

/* Verifies the model and builds a context in `arena`: picks the kernel path
 * (see KILN_ISA below) and prepacks the convolution and fully-connected
 * weights into the arena for it. The largest batch that fits is used per
 * internal step. `err` may be NULL. */
kiln_status kiln_init(const void* model, size_t model_len, void* arena,
                      size_t arena_len, kiln_context** ctx, kiln_error* err);

/* Builds a context for the same (already verified) model in another arena
 * without verifying again: the cheap way to give each thread its own. It
 * runs the same kernel path and reads the weights `verified` prepacked in its
 * arena, so that arena (like the model) must outlive the new context. */
kiln_status kiln_init_like(const kiln_context* verified, void* arena,
                           size_t arena_len, kiln_context** ctx,
                           kiln_error* err);

/* Runs n items. inputs[i] points at n consecutive items of graph input i;
 * outputs[j] (or the whole `outputs` array) may be NULL to skip copying that
 * output; decisions (may be NULL) receives n * kiln_num_heads entries,
 * item-major: decisions[item * num_heads + head]. */
kiln_status kiln_invoke(kiln_context* ctx, size_t n, const void* const* inputs,
                        void* const* outputs, kiln_decision* decisions);

size_t kiln_max_batch(const kiln_context* ctx);
int32_t kiln_num_inputs(const kiln_context* ctx);
int32_t kiln_num_outputs(const kiln_context* ctx);
int32_t kiln_num_heads(const kiln_context* ctx);
kiln_status kiln_get_input_info(const kiln_context* ctx, int32_t index,
                                kiln_tensor_info* info);
kiln_status kiln_get_output_info(const kiln_context* ctx, int32_t index,
                                 kiln_tensor_info* info);
kiln_status kiln_get_head_info(const kiln_context* ctx, int32_t index,
                               kiln_head_info* info);
/* Label of a class of a head, or NULL when the model has none. */
const char* kiln_head_label(const kiln_context* ctx, int32_t head,
                            int32_t class_id);

/* Kernel paths. kiln_init picks the fastest path this CPU runs (run-time
 * detection: cpuid/xgetbv on x86 incl. the AMX permission request,
 * getauxval on AArch64). The environment variable KILN_ISA (one of the names
 * below) forces a path; kiln_init fails with KILN_ERR_UNSUPPORTED if that path
 * cannot run here. Every path produces the same bytes. */
#define KILN_ISA_COUNT 8
/* Name of path `isa` (0 .. KILN_ISA_COUNT-1): "ref", "scalar", "avx2",
 * "avxvnni", "avx512vnni", "amx", "neon", "neondot"; NULL if out of range. */
const char* kiln_isa_name_of(int32_t isa);
/* Bit i set: path i is compiled in and runs on this CPU. */
uint32_t kiln_supported_isas(void);
/* The path a context runs. */
const char* kiln_isa_name(const kiln_context* ctx);

/* Threads. The runtime starts no threads; the caller lends them through a
 * parallel-for: it must run task(task_ctx, i) once for every i in
 * [0, num_tasks), in any order and on any threads, and return when all are
 * done. */
typedef void (*kiln_task_fn)(void* task_ctx, int32_t task);
typedef void (*kiln_parallel_for_fn)(void* user, int32_t num_tasks,
                                     kiln_task_fn task, void* task_ctx);

/* Runs n items on num_contexts contexts of the same model (one arena each,
 * e.g. kiln_init_like of the first), splitting the items into contiguous
 * ranges of as equal size as possible, one range per context and task. Each
 * item is computed exactly as kiln_invoke computes it, so the bytes do not
 * depend on num_contexts or on the threads. parallel_for may be NULL (the
 * ranges then run one after another on the calling thread). Arguments as for
 * kiln_invoke; the contexts must be distinct. */
kiln_status kiln_invoke_parallel(kiln_context* const* contexts,
                                 int32_t num_contexts, size_t n,
                                 const void* const* inputs,
                                 void* const* outputs, kiln_decision* decisions,
                                 kiln_parallel_for_fn parallel_for, void* user);

/* Preprocessing (docs/preprocessing.md): how raw data becomes the model's
 * first graph input, applied by the runtime so that every caller (the
 * toolchain included) computes the same bytes. Images: channel conversion,
 * resize to height x width, per-channel histogram equalization, gamma, then
 * (v / 255 - mean[c]) / std[c], written as the input's type. Feature
 * vectors: (x[i] - mean[i]) / std[i], then an optional L1/L2/max norm. */

/* Values of kiln_preprocess_spec fields (the Layout, ChannelOrder,
 * ResizeMode and FeatureNorm enums of formats/kiln.fbs). */
#define KILN_LAYOUT_NHWC 0
#define KILN_LAYOUT_NCHW 1
#define KILN_LAYOUT_FLAT 2 /* a feature vector */
#define KILN_CHANNELS_NONE 0
#define KILN_CHANNELS_RGB 1
#define KILN_CHANNELS_BGR 2
#define KILN_CHANNELS_GRAY 3
#define KILN_RESIZE_NONE 0
#define KILN_RESIZE_BILINEAR 1
#define KILN_RESIZE_NEAREST 2
#define KILN_FEATURE_NORM_NONE 0
#define KILN_FEATURE_NORM_L1 1
#define KILN_FEATURE_NORM_L2 2
#define KILN_FEATURE_NORM_MAX_ABS 3
/* Largest source image side kiln_preprocess_image takes. */
#define KILN_MAX_IMAGE_SIDE (1 << 20)

/* A model's preprocessing together with the input item it writes. Fields
 * are plain integers so that any value can be checked. */
typedef struct kiln_preprocess_spec {
  int32_t layout;        /* KILN_LAYOUT_* */
  int32_t channel_order; /* KILN_CHANNELS_*: the model's channels */
  int32_t height;        /* images: the model's image size */
  int32_t width;
  int32_t resize;   /* KILN_RESIZE_*: NONE takes only height x width images */
  int32_t equalize; /* 0 or 1 */
  float gamma;      /* > 0; 1 is off */
  int32_t feature_norm; /* KILN_FEATURE_NORM_* */
  /* 0 values (mean 0, std 1) or one per channel (images) or per feature. */
  const float* mean;
  int32_t mean_count;
  const float* std;
  int32_t std_count;
  /* The graph input written: FLOAT32 gets the real values; INT8 and UINT8
   * get them quantized with its scale and zero point (as Quantize does). */
  kiln_tensor_info input;
} kiln_preprocess_spec;

/* The preprocessing of a context's model and its first graph input. mean
 * and std point into the model bytes. KILN_ERR_NO_PREPROCESS when the model
 * has none. */
kiln_status kiln_get_preprocess_spec(const kiln_context* ctx,
                                     kiln_preprocess_spec* spec);

/* The checks kiln_init applies to a model's preprocessing (enum ranges,
 * finite mean, finite non-zero std, finite gamma > 0, sizes against the
 * input's shape and type; docs/preprocessing.md). KILN_ERR_PREPROCESS with a
 * message, or KILN_OK. `err` may be NULL. */
kiln_status kiln_check_preprocess_spec(const kiln_preprocess_spec* spec,
                                       kiln_error* err);

/* Writes one input item (spec->input.item_bytes bytes at `item`, any
 * alignment) from an 8-bit image: height x width pixels, row-major, no row
 * padding, `channels` interleaved values per pixel: 1 gray, 2 gray + alpha,
 * 3 RGB, 4 RGBA (alpha is dropped). No allocation; about 4 KiB of stack.
 * KILN_ERR_INVALID_ARGUMENT: null pointer, a side outside
 * [1, KILN_MAX_IMAGE_SIDE], channels outside 1..4, or a size other than the
 * model's when it does not resize. KILN_ERR_PREPROCESS: the spec fails
 * kiln_check_preprocess_spec. KILN_ERR_NO_PREPROCESS: a feature spec. */
kiln_status kiln_preprocess_image_spec(const kiln_preprocess_spec* spec,
                                       const uint8_t* pixels, int32_t height,
                                       int32_t width, int32_t channels,
                                       void* item);

/* Writes one input item from `count` float features. NaN features become
 * the zero point when quantized, as in Quantize. KILN_ERR_INVALID_ARGUMENT:
 * a null pointer or `count` other than the input's element count;
 * KILN_ERR_PREPROCESS as above; KILN_ERR_NO_PREPROCESS: an image spec. */
kiln_status kiln_preprocess_features_spec(const kiln_preprocess_spec* spec,
                                          const float* features, size_t count,
                                          void* item);

/* The same with the spec of a context's model (kiln_get_preprocess_spec):
 * `item` receives one item of graph input 0, ready for kiln_invoke. */
kiln_status kiln_preprocess_image(const kiln_context* ctx,
                                  const uint8_t* pixels, int32_t height,
                                  int32_t width, int32_t channels, void* item);
kiln_status kiln_preprocess_features(const kiln_context* ctx,
                                     const float* features, size_t count,
                                     void* item);

/* Static English name of a status code. */
const char* kiln_status_string(kiln_status status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_KILN_H_ */
