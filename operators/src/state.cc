#include "chorus/operators/state.h"

#include <cstring>

namespace chorus::ops {

void AppendPartitionPrefix(std::string& key, int32_t partition) {
  PutFixed32BE(key, static_cast<uint32_t>(partition));
}

bool ParsePartitionPrefix(std::string_view key, int32_t& partition) {
  uint32_t v = 0;
  Reader r(key);
  if (!r.Fixed32BE(v)) return false;
  partition = static_cast<int32_t>(v);
  return true;
}

void PutDouble(std::string& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  PutFixed64BE(out, bits);
}

void PutLengthPrefixed(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

bool Reader::Fixed32BE(uint32_t& v) {
  if (data_.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[i]);
  data_.remove_prefix(4);
  return true;
}

bool Reader::Fixed64BE(uint64_t& v) {
  if (data_.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(data_[i]);
  data_.remove_prefix(8);
  return true;
}

bool Reader::Varint(uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (data_.empty()) return false;
    auto byte = static_cast<uint8_t>(data_.front());
    data_.remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool Reader::SignedVarint(int64_t& v) {
  uint64_t u = 0;
  if (!Varint(u)) return false;
  v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return true;
}

bool Reader::Double(double& v) {
  uint64_t bits = 0;
  if (!Fixed64BE(bits)) return false;
  std::memcpy(&v, &bits, sizeof v);
  return true;
}

bool Reader::LengthPrefixed(std::string_view& s) {
  uint64_t n = 0;
  if (!Varint(n) || n > data_.size()) return false;
  s = data_.substr(0, n);
  data_.remove_prefix(n);
  return true;
}

}  // namespace chorus::ops
