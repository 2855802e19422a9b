// The decision layer: per item and head, the top-k classes of the int8
// logits, a confidence and the fallback flag. Everything is integer, so the
// flag is the same bytes on every CPU and every kernel path
// (docs/runtime.md, "Decisions").
#include "runtime/src/internal.h"

namespace kiln {
namespace rt {

namespace {

// Keeps the `k` best (score, id) pairs, best first. Classes arrive in
// increasing id order and only a strictly greater score moves ahead, so equal
// scores keep the lower id first.
inline void InsertCandidate(int32_t id, int32_t score, int32_t k,
                            int32_t* count, int32_t* ids, int32_t* scores) {
  int32_t pos = *count < k ? *count : k;
  if (pos == k && score <= scores[k - 1]) return;
  while (pos > 0 && scores[pos - 1] < score) {
    if (pos < k) {
      ids[pos] = ids[pos - 1];
      scores[pos] = scores[pos - 1];
    }
    --pos;
  }
  ids[pos] = id;
  scores[pos] = score;
  if (*count < k) ++*count;
}

}  // namespace

void Decide(const HeadRt& head, const int8_t* logits, kiln_decision* out) {
  // The margin needs the runner-up even when only the top-1 is returned.
  const bool margin = head.confidence == KILN_CONFIDENCE_MARGIN;
  const int32_t keep = margin && head.top_k < 2 ? 2 : head.top_k;
  int32_t ids[KILN_MAX_TOP_K];
  int32_t scores[KILN_MAX_TOP_K];
  int32_t count = 0;
  for (int32_t c = 0; c < head.num_classes; ++c) {
    InsertCandidate(c, logits[c], keep, &count, ids, scores);
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
    for (int32_t c = 0; c < head.num_classes; ++c) {
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
