#include "toolchain/train/heads.h"

#include <algorithm>
#include <numeric>

namespace kiln {
namespace train {

bool ResolveHeads(const TrainParams& params, const data::Dataset& dataset,
                  std::vector<HeadInfo>* heads, std::string* error) {
  heads->clear();
  int32_t k = static_cast<int32_t>(dataset.class_names.size());
  std::vector<int32_t> identity(static_cast<size_t>(k));
  std::iota(identity.begin(), identity.end(), 0);
  if (params.model.kind != ModelKind::kMultitask) {
    heads->push_back({dataset.name.empty() ? "class" : dataset.name,
                      dataset.class_names, identity});
    return true;
  }
  for (const HeadParams& hp : params.model.heads) {
    HeadInfo h;
    h.name = hp.name;
    if (hp.map.empty()) {
      h.labels = dataset.class_names;
      h.class_of = identity;
      heads->push_back(h);
      continue;
    }
    h.class_of.assign(static_cast<size_t>(k), -1);
    int32_t wildcard = -1;
    for (const auto& entry : hp.map) {
      int32_t id = static_cast<int32_t>(h.labels.size());
      h.labels.push_back(entry.first);
      for (const std::string& c : entry.second) {
        if (c == "*") {
          wildcard = id;
          continue;
        }
        auto it = std::find(dataset.class_names.begin(),
                            dataset.class_names.end(), c);
        if (it == dataset.class_names.end()) {
          *error = "model.heads." + hp.name + ".map." + entry.first +
                   ": no dataset class \"" + c + "\"";
          return false;
        }
        size_t ci = static_cast<size_t>(it - dataset.class_names.begin());
        if (h.class_of[ci] >= 0) {
          *error =
              "model.heads." + hp.name + ": class \"" + c + "\" mapped twice";
          return false;
        }
        h.class_of[ci] = id;
      }
    }
    for (size_t c = 0; c < h.class_of.size(); ++c) {
      if (h.class_of[c] >= 0) continue;
      if (wildcard < 0) {
        *error = "model.heads." + hp.name + ": dataset class \"" +
                 dataset.class_names[c] + "\" is not mapped (add \"*\")";
        return false;
      }
      h.class_of[c] = wildcard;
    }
    heads->push_back(h);
  }
  return true;
}

}  // namespace train
}  // namespace kiln
