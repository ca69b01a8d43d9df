// PostPerformance's persistence: draining changed posts, waiting
// engagements and counters as mutations, and restoring them (key layout in
// posts.h).
#include <algorithm>

#include "channel_catalog.h"
#include "chorus/operators/posts.h"

namespace chorus::ops {

namespace {

constexpr char kPostTag = 'p';
constexpr char kWaitingTag = 'w';
constexpr char kStatsTag = 's';
// The first byte of every value; a reader refuses versions it does not know.
constexpr char kFormatVersion = 1;

constexpr uint64_t kCells = kPostAgeCount * kContentTypeCount;
constexpr uint64_t kSeries = kPlatformCount * kCells;

std::string TaggedKey(int32_t partition, char tag) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  return key;
}

// Reads the version byte; false unless it is ours.
bool GetVersion(std::string_view& value) {
  if (value.empty() || value.front() != kFormatVersion) return false;
  value.remove_prefix(1);
  return true;
}

// The entries of a map by channel index, in channel id order.
template <typename Map>
std::vector<std::pair<std::string_view, const typename Map::mapped_type*>> ById(
    const Map& map, const channel_internal::ChannelCatalog& channels) {
  std::vector<std::pair<std::string_view, const typename Map::mapped_type*>> out;
  out.reserve(map.size());
  for (const auto& [channel, v] : map) out.emplace_back(channels.id(channel), &v);
  std::sort(out.begin(), out.end());
  return out;
}

bool GetHash(std::string_view key, uint64_t& hash) {
  Reader k(key.substr(5));
  return k.Fixed64BE(hash) && k.empty();
}

}  // namespace

std::string PostPerformance::PostKey(int32_t partition, uint64_t key) {
  std::string out = TaggedKey(partition, kPostTag);
  PutFixed64BE(out, key);
  return out;
}

std::string PostPerformance::WaitingKeyOf(int32_t partition, uint64_t key) {
  std::string out = TaggedKey(partition, kWaitingTag);
  PutFixed64BE(out, key);
  return out;
}

std::string PostPerformance::EncodePost(const Post& p) const {
  std::string out(1, kFormatVersion);
  PutLengthPrefixed(out, channels_->id(p.channel));
  PutSignedVarint(out, p.published_ms);
  PutVarint(out, static_cast<uint64_t>(p.platform));
  PutVarint(out, static_cast<uint64_t>(p.content_type));
  PutVarint(out, p.matured_24h ? 1 : 0);
  for (uint64_t f : p.figures) PutVarint(out, f);
  return out;
}

std::string PostPerformance::EncodeWaiting(const WaitingKey& w, int32_t partition) const {
  std::string body;
  uint64_t n = 0;
  int64_t previous = 0;
  // In memory order, which decides where later engagements merge.
  for (const Waiting& e : w.entries) {
    if (e.partition != partition) continue;
    PutSignedVarint(body, e.at_ms - previous);
    PutVarint(body, e.count);
    previous = e.at_ms;
    n++;
  }
  std::string out(1, kFormatVersion);
  PutLengthPrefixed(out, channels_->id(w.channel));
  PutVarint(out, n);
  out += body;
  return out;
}

std::string PostPerformance::EncodeStats(const PartitionStats& s) const {
  // In channel id and series order, so the same counters encode the same way.
  std::string out(1, kFormatVersion);
  const auto matured = ById(s.matured, *channels_);
  PutVarint(out, matured.size());
  for (const auto& [id, m] : matured) {
    PutLengthPrefixed(out, id);
    std::string cells;
    uint64_t k = 0;
    for (uint64_t cell = 0; cell < kCells; ++cell) {
      const uint64_t posts = m->matured[cell / kContentTypeCount][cell % kContentTypeCount];
      const uint64_t sum = m->engagements[cell / kContentTypeCount][cell % kContentTypeCount];
      if (posts == 0 && sum == 0) continue;
      PutVarint(cells, cell);
      PutVarint(cells, posts);
      PutVarint(cells, sum);
      k++;
    }
    PutVarint(out, k);
    out += cells;
  }
  std::vector<std::pair<std::string_view, uint64_t>> unmatched;
  for (ChannelIndex channel = 0; channel < s.unmatched.size(); ++channel) {
    if (s.unmatched[channel] != 0)
      unmatched.emplace_back(channels_->id(channel), s.unmatched[channel]);
  }
  std::sort(unmatched.begin(), unmatched.end());
  PutVarint(out, unmatched.size());
  for (const auto& [id, n] : unmatched) {
    PutLengthPrefixed(out, id);
    PutVarint(out, n);
  }
  std::vector<uint16_t> series;
  for (const auto& [index, h] : s.distribution) series.push_back(index);
  std::sort(series.begin(), series.end());
  PutVarint(out, series.size());
  for (uint16_t index : series) {
    PutVarint(out, index);
    PutHistogram(out, s.distribution.at(index));
  }
  return out;
}

void PostPerformance::DrainDirty(Mutations& out) {
  for (Mutation& m : deletes_) out.push_back(std::move(m));
  deletes_.clear();
  posts_.ForEachFound(dirty_posts_, [&](uint64_t key, Post& p) {
    if (!p.dirty) return;  // matured: deleted above
    out.push_back({Mutation::Op::kPut, PostKey(p.partition, key), EncodePost(p)});
    p.dirty = false;
    p.stored = true;
  });
  dirty_posts_.clear();
  waiting_.ForEachFound(dirty_waiting_, [&](uint64_t key, WaitingKey& w) {
    if (!w.dirty) return;  // forgotten: deleted above
    std::vector<int32_t> present;
    for (const Waiting& e : w.entries) present.push_back(e.partition);
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    for (int32_t partition : present) {
      out.push_back(
          {Mutation::Op::kPut, WaitingKeyOf(partition, key), EncodeWaiting(w, partition)});
    }
    for (int32_t partition : w.stored) {
      if (!std::binary_search(present.begin(), present.end(), partition)) {
        out.push_back({Mutation::Op::kDelete, WaitingKeyOf(partition, key), {}});
      }
    }
    w.stored = std::move(present);
    w.dirty = false;
  });
  dirty_waiting_.clear();
  for (auto& [partition, s] : stats_) {
    if (!s.dirty) continue;
    out.push_back({Mutation::Op::kPut, TaggedKey(partition, kStatsTag), EncodeStats(s)});
    s.dirty = false;
  }
}

bool PostPerformance::Restore(std::string_view key, std::string_view value) {
  int32_t partition = 0;
  if (!ParsePartitionPrefix(key, partition) || key.size() < 5 || !GetVersion(value)) return false;
  switch (key[4]) {
    case kPostTag:
      return RestorePost(partition, key, value);
    case kWaitingTag:
      return RestoreWaiting(partition, key, value);
    case kStatsTag:
      return key.size() == 5 && RestoreStats(partition, value);
    default:
      return false;
  }
}

bool PostPerformance::RestorePost(int32_t partition, std::string_view key, std::string_view value) {
  uint64_t hash = 0;
  if (!GetHash(key, hash)) return false;
  Reader r(value);
  std::string_view channel;
  Post p;
  uint64_t platform = 0, content_type = 0, flags = 0;
  if (!r.LengthPrefixed(channel) || !r.SignedVarint(p.published_ms) || !r.Varint(platform) ||
      platform >= kPlatformCount || !r.Varint(content_type) || content_type >= kContentTypeCount ||
      !r.Varint(flags) || flags > 1) {
    return false;
  }
  for (uint64_t& f : p.figures) {
    if (!r.Varint(f)) return false;
  }
  if (!r.empty()) return false;
  p.partition = partition;
  p.channel = channels_->Intern(channel);
  p.platform = static_cast<Platform>(platform);
  p.content_type = static_cast<ContentType>(content_type);
  p.matured_24h = flags == 1;
  p.stored = true;
  auto [slot, inserted] = posts_.TryEmplace(hash);
  if (inserted || p.Order() < slot->Order()) *slot = p;
  if (!p.matured_24h) maturities_.push({MaturesAt(p.published_ms, PostAge::k24h), partition, hash});
  maturities_.push({MaturesAt(p.published_ms, PostAge::k7d), partition, hash});
  return true;
}

bool PostPerformance::RestoreWaiting(int32_t partition, std::string_view key,
                                     std::string_view value) {
  uint64_t hash = 0;
  if (!GetHash(key, hash)) return false;
  Reader r(value);
  std::string_view channel;
  uint64_t n = 0;
  if (!r.LengthPrefixed(channel) || !r.Varint(n) || n == 0 || n > value.size()) return false;
  std::vector<Waiting> entries;
  int64_t at = 0;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t delta = 0;
    uint64_t count = 0;
    if (!r.SignedVarint(delta) || !r.Varint(count)) return false;
    at += delta;
    entries.push_back({at, partition, count});
  }
  if (!r.empty()) return false;
  WaitingKey& w = waiting_[hash];
  w.channel = channels_->Intern(channel);
  w.stored.push_back(partition);
  for (const Waiting& e : entries) {
    w.entries.push_back(e);
    QueueExpiry(hash, w, e.at_ms + options_.engagement_wait.count());
  }
  waiting_count_ += entries.size();
  return true;
}

bool PostPerformance::RestoreStats(int32_t partition, std::string_view value) {
  Reader r(value);
  PartitionStats& s = stats_[partition];
  uint64_t n = 0;
  if (!r.Varint(n) || n > value.size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view id;
    uint64_t k = 0;
    if (!r.LengthPrefixed(id) || !r.Varint(k) || k > kCells) return false;
    ChannelPostStats& m = s.matured[channels_->Intern(id)];
    for (uint64_t j = 0; j < k; ++j) {
      uint64_t cell = 0;
      if (!r.Varint(cell) || cell >= kCells ||
          !r.Varint(m.matured[cell / kContentTypeCount][cell % kContentTypeCount]) ||
          !r.Varint(m.engagements[cell / kContentTypeCount][cell % kContentTypeCount])) {
        return false;
      }
    }
  }
  if (!r.Varint(n) || n > value.size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view id;
    uint64_t count = 0;
    if (!r.LengthPrefixed(id) || !r.Varint(count)) return false;
    s.AddUnmatched(channels_->Intern(id), count);
  }
  if (!r.Varint(n) || n > kSeries) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t index = 0;
    if (!r.Varint(index) || index >= kSeries ||
        !GetHistogram(r, s.distribution[static_cast<uint16_t>(index)])) {
      return false;
    }
  }
  return r.empty();
}

}  // namespace chorus::ops
