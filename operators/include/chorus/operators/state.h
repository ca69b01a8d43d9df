// How operators hand their state to the runtime for persistence.
//
// Operators keep their state in memory and track what changed since the
// last commit. At a commit the runtime drains those changes as mutations and
// writes them, with the input offsets, in one atomic batch; on start it feeds
// the stored entries back through each operator's Restore(). Keys are opaque
// bytes owned by the operator's encoding and always begin with the input
// partition (4 bytes, big-endian), so one partition's state can be dropped,
// exported or restored on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::ops {

struct Mutation {
  enum class Op : uint8_t { kPut, kDelete, kDeleteRange };
  Op op = Op::kPut;
  std::string key;    // for kDeleteRange: the inclusive begin
  std::string value;  // kPut: the encoded value; kDeleteRange: the exclusive end
};
using Mutations = std::vector<Mutation>;

// Appends `partition` as 4 big-endian bytes: the prefix of every state key.
void AppendPartitionPrefix(std::string& key, int32_t partition);
// Reads the partition prefix back; false if `key` is shorter than 4 bytes.
bool ParsePartitionPrefix(std::string_view key, int32_t& partition);

// Big-endian fixed-width and LEB128 varint helpers for state encodings.
// Inline: a drain encodes a few million of them a second.
inline void PutFixed32BE(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
inline void PutFixed64BE(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void PutSignedVarint(std::string& out, int64_t v) {  // zigzag
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void PutDouble(std::string& out, double v);
void PutLengthPrefixed(std::string& out, std::string_view s);

// A cursor over an encoded value; every getter returns false on truncation.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Fixed32BE(uint32_t& v);
  bool Fixed64BE(uint64_t& v);
  bool Varint(uint64_t& v);
  bool SignedVarint(int64_t& v);
  bool Double(double& v);
  bool LengthPrefixed(std::string_view& s);
  bool empty() const { return data_.empty(); }
  std::string_view rest() const { return data_; }

 private:
  std::string_view data_;
};

// Encodes an int64 so that byte order equals numeric order (sign bit flipped).
inline uint64_t OrderedBits(int64_t v) { return static_cast<uint64_t>(v) ^ (1ULL << 63); }
inline int64_t FromOrderedBits(uint64_t v) { return static_cast<int64_t>(v ^ (1ULL << 63)); }

}  // namespace chorus::ops
