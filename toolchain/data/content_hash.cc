#include "toolchain/data/content_hash.h"

#include <openssl/evp.h>
#include <string.h>

#include <stdexcept>

namespace kiln {
namespace data {
namespace {

// SHA-256 through OpenSSL's EVP interface, with little-endian helpers for
// the fixed-width fields of the hash inputs.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr ||
        EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Bytes(const void* data, size_t size) {
    if (size != 0) EVP_DigestUpdate(ctx_, data, size);
  }
  void Text(const std::string& s) { Bytes(s.data(), s.size()); }
  void U8(uint8_t v) { Bytes(&v, 1); }
  void U32(uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    Bytes(b, sizeof(b));
  }
  void U64(uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    Bytes(b, sizeof(b));
  }
  // A length-prefixed string, so that field boundaries are unambiguous.
  void Field(const std::string& s) {
    U64(s.size());
    Text(s);
  }

  // Returns the hex digest and starts over.
  std::string HexAndReset() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
    static const char kHex[] = "0123456789abcdef";
    std::string hex(2 * size, '0');
    for (unsigned int i = 0; i < size; ++i) {
      hex[2 * i] = kHex[digest[i] >> 4];
      hex[2 * i + 1] = kHex[digest[i] & 15];
    }
    return hex;
  }

 private:
  EVP_MD_CTX* ctx_;
};

void HashSample(const Dataset& d, size_t index, Sha256* h) {
  h->Text(std::string("kiln-content-v1", 16));  // with the terminating NUL
  h->U8(d.feature_type == FeatureType::kUint8 ? 0 : 1);
  h->U32(static_cast<uint32_t>(d.item_shape.size()));
  for (int32_t dim : d.item_shape) h->U32(static_cast<uint32_t>(dim));
  const size_t n = d.item_byte_size();
  h->U64(n);
  h->Bytes(d.item_bytes(index), n);
}

std::string Plural(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string Sha256Hex(const void* bytes, size_t size) {
  Sha256 h;
  h.Bytes(bytes, size);
  return h.HexAndReset();
}

bool IsSha256Hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool CheckDatasetShape(const Dataset& d, std::string* error) {
  const size_t n = d.size();
  for (int32_t dim : d.item_shape) {
    if (dim < 0) {
      *error = "dataset '" + d.name + "': negative dimension in item shape";
      return false;
    }
  }
  const size_t values = n * d.item_elements();
  const size_t have =
      d.feature_type == FeatureType::kUint8 ? d.u8.size() : d.f32.size();
  if (have != values) {
    *error = "dataset '" + d.name + "': " + Plural(n, "sample") + " of " +
             Plural(d.item_elements(), "value") + " need " +
             std::to_string(values) + " feature values, the dataset holds " +
             std::to_string(have);
    return false;
  }
  if (d.task == Task::kClassification) {
    if (d.labels.size() != n) {
      *error = "dataset '" + d.name + "': " + Plural(d.labels.size(), "label") +
               " for " + Plural(n, "sample");
      return false;
    }
    for (size_t i = 0; i < n; ++i) {
      if (d.labels[i] < 0 ||
          static_cast<size_t>(d.labels[i]) >= d.class_names.size()) {
        *error = "dataset '" + d.name + "': sample " + std::to_string(i) +
                 " (" + d.origins[i] + ") has label " +
                 std::to_string(d.labels[i]) + ", not in [0, " +
                 std::to_string(d.class_names.size()) + ")";
        return false;
      }
    }
  } else {
    if (d.target_dim < 1 ||
        d.targets.size() != n * static_cast<size_t>(d.target_dim)) {
      *error = "dataset '" + d.name +
               "': " + Plural(d.targets.size(), "target value") + " for " +
               Plural(n, "sample") + " of target width " +
               std::to_string(d.target_dim);
      return false;
    }
  }
  if (!d.source_splits.empty() && d.source_splits.size() != n) {
    *error = "dataset '" + d.name +
             "': " + Plural(d.source_splits.size(), "source split") + " for " +
             Plural(n, "sample");
    return false;
  }
  return true;
}

std::string ContentHash(const Dataset& dataset, size_t index) {
  Sha256 h;
  HashSample(dataset, index, &h);
  return h.HexAndReset();
}

bool ContentHashes(const Dataset& dataset, std::vector<std::string>* hashes,
                   std::string* error) {
  if (!CheckDatasetShape(dataset, error)) return false;
  hashes->clear();
  hashes->reserve(dataset.size());
  Sha256 h;
  for (size_t i = 0; i < dataset.size(); ++i) {
    HashSample(dataset, i, &h);
    hashes->push_back(h.HexAndReset());
  }
  return true;
}

std::string DatasetHash(const Dataset& dataset) {
  std::vector<std::string> hashes;
  std::string error;
  if (!ContentHashes(dataset, &hashes, &error)) return "";
  return DatasetHash(dataset, hashes);
}

std::string DatasetHash(const Dataset& d,
                        const std::vector<std::string>& content_hashes) {
  std::string error;
  if (!CheckDatasetShape(d, &error) || content_hashes.size() != d.size()) {
    return "";
  }
  Sha256 h;
  h.Text(std::string("kiln-dataset-v1", 16));  // with the terminating NUL
  const bool classification = d.task == Task::kClassification;
  h.U8(classification ? 0 : 1);
  if (classification) {
    h.U64(d.class_names.size());
    for (const std::string& name : d.class_names) h.Field(name);
  } else {
    h.U32(static_cast<uint32_t>(d.target_dim));
  }
  h.U64(d.size());
  const size_t width = static_cast<size_t>(d.target_dim);
  for (size_t i = 0; i < d.size(); ++i) {
    h.Text(content_hashes[i]);
    if (classification) {
      h.U32(static_cast<uint32_t>(d.labels[i]));
    } else {
      for (size_t k = 0; k < width; ++k) {
        uint32_t bits;
        static_assert(sizeof(bits) == sizeof(float), "float is 32 bits");
        memcpy(&bits, &d.targets[i * width + k], sizeof(bits));
        h.U32(bits);
      }
    }
  }
  return h.HexAndReset();
}

}  // namespace data
}  // namespace kiln
