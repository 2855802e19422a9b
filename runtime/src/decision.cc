// The decision layer: per item and head, the top-k classes of the int8
// logits, a confidence and the fallback flag. Everything is integer, so the
// flag is the same bytes on every CPU and every kernel path
// (docs/runtime.md, "Decisions").
//
// Order: larger logit first, equal logits lower class id first. Both are one
// comparison of the key logit * 2^16 - id (unique per class, since
// id < 2^16), so "the k best" is a set of keys and its order a rank. The
// selection is branch-free where the data decides: a sorted insertion per
// class mispredicts on about k * (1 + ln(C / k)) of them, which made it the
// largest part of a small model's invoke.

#include <string.h>

#include "runtime/src/internal.h"

namespace kiln {
namespace rt {

namespace {

// Heads with at most this many classes rank every class against every other
// (C^2 comparisons, no histogram to clear).
constexpr int32_t kRankAllClasses = 16;

inline int32_t Key(int32_t logit, int32_t id) { return logit * 65536 - id; }

// ids/scores[0..keep) = the `keep` best classes of `logits`, best first, by
// ranking every class. Slot KILN_MAX_TOP_K receives the rest.
void RankAll(const int8_t* logits, int32_t classes, int32_t keep, int32_t* ids,
             int32_t* scores) {
  int32_t key[kRankAllClasses];
  for (int32_t c = 0; c < classes; ++c) key[c] = Key(logits[c], c);
  for (int32_t c = 0; c < classes; ++c) {
    int32_t rank = 0;
    for (int32_t j = 0; j < classes; ++j) rank += key[j] > key[c] ? 1 : 0;
    const int32_t slot = rank < keep ? rank : KILN_MAX_TOP_K;
    ids[slot] = c;
    scores[slot] = logits[c];
  }
}

// How many of the `n` logits are >= t. Counted in uint8 lanes over chunks of
// at most 255 classes (a count that cannot wrap), which the compiler
// vectorizes as one compare and one subtract per 16 classes; an int32 count
// would widen every compare result to four int32 vectors first.
int32_t CountAtLeast(const int8_t* logits, int32_t n, int32_t t) {
  const int8_t t8 = static_cast<int8_t>(t);
  int32_t count = 0;
  for (int32_t base = 0; base < n; base += 255) {
    const int32_t end = n - base < 255 ? n : base + 255;
    uint8_t chunk = 0;
    for (int32_t c = base; c < end; ++c) chunk += logits[c] >= t8 ? 1 : 0;
    count += chunk;
  }
  return count;
}

// Bit j of the result: logits[j] >= t, for the first `n` <= 64 logits.
// Eight classes per step, compared as bytes within one uint64 (SWAR):
// x >= t for signed bytes is (x ^ 0x80) >= (t ^ 0x80) unsigned, and for
// unsigned bytes a >= b is the top bit of (a & ~b) | (~(a ^ b) & d) with
// d = (a | H) - (b & ~H) per byte (H = 0x80 in each byte: the subtraction
// never borrows across bytes). The 8 top bits are then gathered by one
// multiply. Tails are padded with t itself, whose bits are masked off.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "MaskAtLeast reads class base + j from byte j of a little-endian word"
#endif
uint64_t MaskAtLeast(const int8_t* logits, int32_t n, int32_t t) {
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const uint64_t b =
      (static_cast<uint64_t>(static_cast<uint8_t>(t)) * 0x0101010101010101ull) ^
      kHigh;
  uint64_t mask = 0;
  for (int32_t base = 0; base < n; base += 8) {
    uint64_t a;
    if (n - base >= 8) {
      memcpy(&a, logits + base, sizeof(a));
    } else {
      uint8_t bytes[8];
      memset(bytes, static_cast<uint8_t>(t), sizeof(bytes));
      memcpy(bytes, logits + base, static_cast<size_t>(n - base));
      memcpy(&a, bytes, sizeof(a));
    }
    a ^= kHigh;  // little-endian byte order: byte j is class base + j
    const uint64_t d = (a | kHigh) - (b & ~kHigh);
    const uint64_t ge = ((a & ~b) | (~(a ^ b) & d)) & kHigh;
    mask |= (((ge >> 7) * 0x0102040810204080ull) >> 56) << base;
  }
  return n >= 64 ? mask : mask & ((uint64_t(1) << n) - 1);
}

// The same for any number of classes: the keep-th best logit T is the
// largest t with at least `keep` logits >= t (a binary search of counting
// passes, no memory written per class); one pass in id order then takes
// every class above T and the first (lowest id) of those equal to T, and
// the <= 16 chosen ones are ranked among themselves.
void SelectByThreshold(const int8_t* logits, int32_t classes, int32_t keep,
                       int32_t* ids, int32_t* scores) {
  int32_t lo = -128, hi = 127;  // CountAtLeast(lo) = classes >= keep
  while (lo < hi) {
    const int32_t mid = (lo + hi + 1) >> 1;
    if (CountAtLeast(logits, classes, mid) >= keep) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const int32_t threshold = lo;
  const int32_t above =
      threshold < 127 ? CountAtLeast(logits, classes, threshold + 1) : 0;
  const int32_t equal_wanted = keep - above;
  // Candidates (logit >= T) as bit masks of 64 classes, so the id-order
  // pass visits only them: the mask loop has no loop-carried chain, and the
  // visits are about `keep` per head instead of one per class.
  int32_t chosen[KILN_MAX_TOP_K];
  int32_t n = 0, equal_seen = 0;
  for (int32_t base = 0; base < classes; base += 64) {
    const int32_t end = classes - base < 64 ? classes - base : 64;
    uint64_t mask = MaskAtLeast(logits + base, end, threshold);
    for (; mask != 0; mask &= mask - 1) {
      const int32_t c = base + __builtin_ctzll(mask);
      if (logits[c] == threshold) {
        if (equal_seen++ >= equal_wanted) continue;
      }
      chosen[n++] = c;
    }
  }
  int32_t key[KILN_MAX_TOP_K];
  for (int32_t i = 0; i < keep; ++i) key[i] = Key(logits[chosen[i]], chosen[i]);
  for (int32_t i = 0; i < keep; ++i) {
    int32_t rank = 0;
    for (int32_t j = 0; j < keep; ++j) rank += key[j] > key[i] ? 1 : 0;
    ids[rank] = chosen[i];
    scores[rank] = logits[chosen[i]];
  }
}

}  // namespace

void Decide(const HeadRt& head, const int8_t* logits, kiln_decision* out) {
  // The margin needs the runner-up even when only the top-1 is returned.
  const bool margin = head.confidence == KILN_CONFIDENCE_MARGIN;
  const int32_t keep = margin && head.top_k < 2 ? 2 : head.top_k;
  const int32_t classes = head.num_classes;
  int32_t ids[KILN_MAX_TOP_K + 1];
  int32_t scores[KILN_MAX_TOP_K + 1];
  if (classes <= kRankAllClasses) {
    RankAll(logits, classes, keep, ids, scores);
  } else {
    SelectByThreshold(logits, classes, keep, ids, scores);
  }
  for (int32_t i = 0; i < head.top_k; ++i) {
    out->class_id[i] = ids[i];
    out->score[i] = scores[i];
  }
  for (int32_t i = head.top_k; i < KILN_MAX_TOP_K; ++i) {
    out->class_id[i] = -1;
    out->score[i] = 0;
  }
  out->k = head.top_k;
  if (margin) {
    out->confidence = scores[0] - scores[1];
  } else {
    // p_i = e_i / sum(e) with e = exp_table[max - logit]: softmax of the
    // dequantized logits, in Q16, rounded half up with integer division.
    const int32_t* e = head.exp_table;
    uint64_t sum = 0;
    for (int32_t c = 0; c < classes; ++c) {
      sum += static_cast<uint32_t>(e[scores[0] - logits[c]]);
    }
    const int32_t counted =
        head.confidence == KILN_CONFIDENCE_TOPK_PROB ? head.top_k : 1;
    uint64_t top = 0;
    for (int32_t i = 0; i < counted; ++i) {
      top += static_cast<uint32_t>(e[scores[0] - scores[i]]);
    }
    out->confidence = static_cast<int32_t>((top * 65536 + sum / 2) / sum);
  }
  out->fallback = out->confidence < head.threshold ? 1 : 0;
}

}  // namespace rt
}  // namespace kiln
