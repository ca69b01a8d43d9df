// Helpers shared by the channel growth tests: event builders, views of
// merged channels and closed windows, and an in-memory stand-in for the
// store that applies drained mutations in order.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/event.h"
#include "chorus/operators/state.h"

namespace chorus::ops::channel_test {

constexpr int64_t kSec = 1'000;
constexpr int64_t kMin = 60'000;
constexpr int64_t kHr = 3'600'000;
constexpr int64_t kDy = 86'400'000;

using K = EventKind;
using C = ContentType;

inline Event Ev(K kind, int64_t ms, std::string_view channel = "twitter:acme", uint64_t count = 0) {
  Event e;
  e.event_id = "id";
  e.occurred_at = EventTime::FromMillis(ms);
  e.channel_id = channel;
  e.platform = Platform::kTwitter;
  e.kind = kind;
  e.actor_role = ActorRole::kBrand;
  e.count = count;
  return e;
}

inline Event ByMember(K kind, int64_t ms, C content, std::string_view channel = "twitter:acme") {
  Event e = Ev(kind, ms, channel);
  e.actor_role = ActorRole::kMember;
  e.member_id = "m1";
  e.content_type = content;
  return e;
}

inline Event Post(int64_t ms, C content, std::string_view channel = "twitter:acme",
                  uint64_t count = 0) {
  Event e = Ev(K::kPostPublished, ms, channel, count);
  e.content_type = content;
  return e;
}

// Uniform integers in [lo, hi] from a seeded generator, for the randomized
// tests.
class Uniform {
 public:
  explicit Uniform(uint32_t seed) : rng_(seed) {}
  int64_t operator()(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

 private:
  std::mt19937 rng_;
};

inline size_t I(K k) { return static_cast<size_t>(k); }
inline size_t I(C c) { return static_cast<size_t>(c); }

struct View {
  std::string channel;
  Platform platform;
  ChannelCounts totals;
  int64_t followers;
  bool has_snapshot;
  bool operator==(const View&) const = default;
};

inline std::vector<View> Views(const ChannelGrowth& g) {
  std::vector<View> out;
  g.ForEachChannel([&](const ChannelView& v) {
    out.push_back(View{std::string(v.channel_id), v.platform, v.totals, v.followers,
                       v.has_follower_snapshot});
  });
  return out;
}

inline View One(const ChannelGrowth& g, std::string_view channel = "twitter:acme") {
  for (View& v : Views(g)) {
    if (v.channel == channel) return v;
  }
  ADD_FAILURE() << "no channel " << channel;
  return View{};
}

struct Closed {
  std::string channel;
  std::string spec;
  int64_t start;
  int64_t end;
  Platform platform;
  ChannelCounts counts;
  uint32_t revision = 0;
  bool operator==(const Closed&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Closed& c) {
  return os << c.channel << " " << c.spec << " [" << c.start << ", " << c.end << ") r"
            << c.revision;
}

inline std::vector<Closed> Advance(ChannelGrowth& g, int64_t watermark_ms) {
  std::vector<Closed> out;
  g.AdvanceWatermark(EventTime::FromMillis(watermark_ms), [&](const WindowResult& w) {
    out.push_back(Closed{std::string(w.channel_id), std::string(w.spec->name), w.start.millis(),
                         w.end.millis(), w.platform, w.counts, w.revision});
  });
  return out;
}

// The store as RocksDB would hold it after applying mutations in order.
using Store = std::map<std::string, std::string>;

inline void ApplyTo(Store& store, const Mutations& ms) {
  for (const Mutation& m : ms) {
    if (m.op == Mutation::Op::kPut) {
      store[m.key] = m.value;
    } else if (m.op == Mutation::Op::kDelete) {
      store.erase(m.key);
    } else {
      store.erase(store.lower_bound(m.key), store.lower_bound(m.value));
    }
  }
}

inline void Drain(ChannelGrowth& g, Store& store) {
  Mutations out;
  g.DrainDirty(out);
  ApplyTo(store, out);
}

inline ChannelGrowth RestoreFrom(const Store& store) {
  ChannelGrowth g;
  for (const auto& [k, v] : store) EXPECT_TRUE(g.Restore(k, v));
  return g;
}

inline size_t CountWithTag(const Store& store, char tag) {
  return std::count_if(store.begin(), store.end(),
                       [&](const auto& kv) { return kv.first.size() > 4 && kv.first[4] == tag; });
}

inline std::string Bytes(std::initializer_list<uint8_t> b) {
  return std::string(b.begin(), b.end());
}

constexpr char kChannelChunkTag = 0x08;
constexpr char kChannelChunkV1Tag = 0x03;  // before snapshot histories
constexpr char kWindowGroupTag = 0x07;
constexpr char kWindowGroupV2Tag = 0x06;  // before responses
constexpr char kWindowGroupV1Tag = 0x05;  // before corrections

// The chunk storing `channel`'s totals: its stable hash modulo the 64 chunks.
inline uint16_t ChunkOf(std::string_view channel) {
  return static_cast<uint16_t>(StableHash64(channel) % 64);
}

inline void PutChunk(std::string& key, uint16_t chunk) {
  key.push_back(static_cast<char>(chunk >> 8));
  key.push_back(static_cast<char>(chunk & 0xff));
}

// Keys as KeysArePartitionTagAndChunkOrWindowGroup spells them out.
inline std::string ChannelChunkKeyOf(int32_t partition, uint16_t chunk,
                                     char tag = kChannelChunkTag) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  PutChunk(key, chunk);
  return key;
}

inline std::string WindowGroupKeyOf(int32_t partition, uint64_t size_ms, int64_t start_ms,
                                    char tag = kWindowGroupTag) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  PutFixed64BE(key, size_ms);
  PutFixed64BE(key, OrderedBits(start_ms));
  return key;
}

// A window group value's entry: `channel`, its encoded counts, then the
// corrections made << 2 | has responses << 1 | pending (<< 1 | pending under
// kWindowGroupV2Tag, absent under kWindowGroupV1Tag) and any responses.
inline std::string GroupEntry(std::string_view channel, std::string_view counts,
                              std::string_view corrections = std::string_view("\0", 1)) {
  std::string value;
  PutLengthPrefixed(value, channel);
  value.append(counts);
  value.append(corrections);
  return value;
}

}  // namespace chorus::ops::channel_test
