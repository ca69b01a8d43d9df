// Threads' persistence: draining changed threads, waiting replies and
// counters as mutations, and restoring them (key layout in threads.h).
#include <algorithm>

#include "chorus/operators/event.h"
#include "chorus/operators/threads.h"

namespace chorus::ops {

namespace {

constexpr char kThreadTag = 't';
constexpr char kReplyTag = 'r';
constexpr char kLegacyStatsTag = 's';  // all of a partition's counters in one value
constexpr char kChannelStatsTag = 'c';

std::string StatsKey(int32_t partition, char tag, std::string_view channel_id = {}) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  key.append(channel_id);
  return key;
}

}  // namespace

std::string Threads::ThreadKey(int32_t partition, int64_t opened_ms, uint64_t hash) {
  std::string key;
  key.reserve(4 + 1 + 8 + 8);  // one allocation: open threads are the bulk of a drain
  AppendPartitionPrefix(key, partition);
  key.push_back(kThreadTag);
  PutFixed64BE(key, OrderedBits(opened_ms));
  PutFixed64BE(key, hash);
  return key;
}

std::string Threads::ReplyKey(int32_t partition, int64_t at_ms, uint64_t target, uint64_t self) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(kReplyTag);
  PutFixed64BE(key, OrderedBits(at_ms));
  PutFixed64BE(key, target);
  PutFixed64BE(key, self);
  return key;
}

std::string Threads::EncodeThread(const Thread& t) const {
  std::string out;
  // Ids and their lengths, kind, flags and up to two gaps with responders.
  const std::string_view opener = openers_.id(t.opener);
  out.reserve(channels_.id(t.channel).size() + opener.size() + 32);
  PutLengthPrefixed(out, channels_.id(t.channel));
  PutVarint(out, t.kind);
  // Flags: bit 0 first counted, bit 1 a first candidate, bit 2 a close
  // candidate, bit 3 the opener was a reply.
  const bool has_first = t.first_ms != INT64_MAX, has_close = t.close_ms != INT64_MAX;
  PutVarint(out, (t.first_counted ? 1 : 0) | (has_first ? 2 : 0) | (has_close ? 4 : 0) |
                     (t.is_reply ? 8 : 0));
  if (has_first) {
    PutSignedVarint(out, t.first_ms - t.opened_ms);
    PutVarint(out, static_cast<uint64_t>(t.first_by));
  }
  if (has_close) {
    PutSignedVarint(out, t.close_ms - t.opened_ms);
    PutVarint(out, static_cast<uint64_t>(t.close_by));
  }
  PutLengthPrefixed(out, opener);
  return out;
}

std::string Threads::EncodeStats(const ChannelThreadStats& s) {
  // One allocation, not one per doubling: the counters take a byte or two
  // each, a histogram in use 14 buckets of a byte or two and its sum.
  size_t bytes = 48;
  for (const auto* set : {&s.response, &s.first_response, &s.reply_first_response}) {
    for (const ResponseHistogram& h : *set) bytes += h.count == 0 ? 1 : 48;
  }
  std::string out;
  out.reserve(bytes);
  for (uint64_t v : s.opened) PutVarint(out, v);
  for (uint64_t v : s.unanswered) PutVarint(out, v);
  for (uint64_t v : s.unresponded) PutVarint(out, v);
  PutSignedVarint(out, s.open);
  PutVarint(out, s.unmatched_replies);
  for (uint64_t v : s.mentions_by_band) PutVarint(out, v);
  for (const ResponseHistogram& h : s.response) PutHistogram(out, h);
  for (const ResponseHistogram& h : s.first_response) PutHistogram(out, h);
  for (const ResponseHistogram& h : s.reply_first_response) PutHistogram(out, h);
  return out;
}

bool Threads::DecodeStats(Reader& r, ChannelThreadStats& s) {
  for (uint64_t& v : s.opened) {
    if (!r.Varint(v)) return false;
  }
  for (uint64_t& v : s.unanswered) {
    if (!r.Varint(v)) return false;
  }
  for (uint64_t& v : s.unresponded) {
    if (!r.Varint(v)) return false;
  }
  if (!r.SignedVarint(s.open) || !r.Varint(s.unmatched_replies)) return false;
  for (uint64_t& v : s.mentions_by_band) {
    if (!r.Varint(v)) return false;
  }
  for (ResponseHistogram& h : s.response) {
    if (!GetHistogram(r, h)) return false;
  }
  for (ResponseHistogram& h : s.first_response) {
    if (!GetHistogram(r, h)) return false;
  }
  for (ResponseHistogram& h : s.reply_first_response) {
    if (!GetHistogram(r, h)) return false;
  }
  return true;
}

void Threads::DrainDirty(Mutations& out) {
  out.reserve(out.size() + deletes_.size() + dirty_threads_.size() + dirty_waiting_.size());
  for (Mutation& m : deletes_) out.push_back(std::move(m));
  deletes_.clear();
  auto put = [&](uint64_t hash, Thread& t) {
    out.push_back({Mutation::Op::kPut, ThreadKey(t.partition, t.opened_ms, hash), EncodeThread(t)});
    t.dirty = false;
    t.stored = true;
  };
  // When over a quarter of the threads changed (a replay's one commit holds
  // every open thread), a pass over the table beats a lookup per thread.
  if (4 * dirty_threads_.size() > threads_.size()) {
    threads_.ForEach([&](uint64_t hash, Thread& t) {
      if (t.dirty) put(hash, t);
    });
  } else {
    threads_.ForEachFound(dirty_threads_, [&](uint64_t hash, Thread& t) {
      if (t.dirty) put(hash, t);  // else closed: deleted above
    });
  }
  dirty_threads_.clear();
  waiting_.ForEachFound(dirty_waiting_, [&](uint64_t target, std::vector<Reply>& w) {
    for (Reply& r : w) {
      if (r.stored) continue;
      std::string value;
      PutVarint(value, static_cast<uint64_t>(r.responder));
      PutFixed64BE(value, r.member_hash);
      PutLengthPrefixed(value, channels_.id(r.channel));
      out.push_back(
          {Mutation::Op::kPut, ReplyKey(r.partition, r.at_ms, target, r.self_hash), value});
      r.stored = true;
    }
  });
  dirty_waiting_.clear();
  // A commit rewrites only the channels whose counters changed: with many
  // channels per partition, re-encoding them all dominated the drain.
  for (auto& [partition, p] : stats_) {
    if (p.legacy_key) {
      out.push_back({Mutation::Op::kDelete, StatsKey(partition, kLegacyStatsTag), {}});
      p.legacy_key = false;
    }
    const std::vector<uint32_t>& dirty = p.dirty_channels;
    for (size_t i = 0; i < dirty.size(); ++i) {
      // The counters of the channel encoded two from now, all ~1.3 KB:
      // scattered in the heap, each set would stall its encoding.
      if (i + 2 < dirty.size())
        PrefetchLines(p.by_channel[dirty[i + 2]].get(), sizeof(StoredStats));
      const uint32_t channel = dirty[i];
      StoredStats& s = p.At(channel);
      out.push_back({Mutation::Op::kPut,
                     StatsKey(partition, kChannelStatsTag, channels_.id(channel)),
                     EncodeStats(s.stats)});
      s.dirty = false;
    }
    p.dirty_channels.clear();
  }
}

bool Threads::Restore(std::string_view key, std::string_view value) {
  int32_t partition = 0;
  if (!ParsePartitionPrefix(key, partition) || key.size() < 5) return false;
  switch (key[4]) {
    case kThreadTag:
      return RestoreThread(partition, key, value);
    case kReplyTag:
      return RestoreReply(partition, key, value);
    case kChannelStatsTag: {
      if (key.size() == 5) return false;
      Reader r(value);
      uint32_t channel = channels_.Intern(key.substr(5));
      return DecodeStats(r, stats_[partition].At(channel).stats) && r.empty();
    }
    case kLegacyStatsTag:
      return key.size() == 5 && RestoreLegacyStats(partition, value);
    default:
      return false;
  }
}

bool Threads::RestoreThread(int32_t partition, std::string_view key, std::string_view value) {
  Reader k(key.substr(5));
  uint64_t opened = 0, hash = 0;
  if (!k.Fixed64BE(opened) || !k.Fixed64BE(hash) || !k.empty()) return false;
  Reader r(value);
  std::string_view channel, opener;
  uint64_t kind = 0, flags = 0, first_by = 0, close_by = 0;
  int64_t first_gap = 0, close_gap = 0;
  if (!r.LengthPrefixed(channel) || !r.Varint(kind) || kind >= kThreadKindCount ||
      !r.Varint(flags) || flags > 15) {
    return false;
  }
  if ((flags & 2) &&
      (!r.SignedVarint(first_gap) || !r.Varint(first_by) || first_by >= kResponderCount)) {
    return false;
  }
  if ((flags & 4) &&
      (!r.SignedVarint(close_gap) || !r.Varint(close_by) || close_by >= kResponderCount)) {
    return false;
  }
  if (!r.LengthPrefixed(opener) || !r.empty()) return false;
  Thread& t = threads_[hash];
  t.opened_ms = FromOrderedBits(opened);
  t.partition = partition;
  t.channel = channels_.Intern(channel);
  t.kind = static_cast<uint8_t>(kind);
  t.first_counted = (flags & 1) != 0;
  t.is_reply = (flags & 8) != 0;
  if (flags & 2) {
    t.first_ms = t.opened_ms + first_gap;
    t.first_by = static_cast<Responder>(first_by);
    if (!t.first_counted) finals_.push({t.first_ms, partition, hash});
  }
  if (flags & 4) {
    t.close_ms = t.opened_ms + close_gap;
    t.close_by = static_cast<Responder>(close_by);
    finals_.push({t.close_ms, partition, hash});
  }
  t.opener = openers_.Intern(opener);
  t.opener_hash = StableHash64(opener);
  t.stored = true;
  expiries_.push({t.opened_ms + options_.horizon.count(), partition, hash});
  return true;
}

bool Threads::RestoreReply(int32_t partition, std::string_view key, std::string_view value) {
  Reader k(key.substr(5));
  uint64_t at = 0, target = 0, self = 0;
  if (!k.Fixed64BE(at) || !k.Fixed64BE(target) || !k.Fixed64BE(self) || !k.empty()) return false;
  Reader r(value);
  uint64_t responder = 0, member_hash = 0;
  std::string_view channel;
  if (!r.Varint(responder) || responder >= kResponderCount || !r.Fixed64BE(member_hash) ||
      !r.LengthPrefixed(channel) || !r.empty()) {
    return false;
  }
  Reply reply;
  reply.at_ms = FromOrderedBits(at);
  reply.partition = partition;
  reply.responder = static_cast<Responder>(responder);
  reply.self_hash = self;
  reply.member_hash = member_hash;
  reply.channel = channels_.Intern(channel);
  reply.stored = true;
  std::vector<Reply>& w = waiting_[target];
  if (w.empty()) reply_expiries_.push({reply.at_ms + options_.reply_wait.count(), 0, target});
  w.push_back(reply);
  waiting_count_++;
  return true;
}

// Each channel moves to its own key at the next drain.
bool Threads::RestoreLegacyStats(int32_t partition, std::string_view value) {
  Reader r(value);
  uint64_t n = 0;
  if (!r.Varint(n) || n > value.size()) return false;
  PartitionStats& p = stats_[partition];
  p.legacy_key = true;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view id;
    if (!r.LengthPrefixed(id)) return false;
    uint32_t channel = channels_.Intern(id);
    StoredStats& s = p.At(channel);
    if (!DecodeStats(r, s.stats)) return false;
    MarkStatsDirty(p, channel, s);
  }
  return r.empty();
}

}  // namespace chorus::ops
