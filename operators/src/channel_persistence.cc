// ChannelGrowth's persistence: draining changed state as mutations and
// restoring it (see channel_codec.h for the stored form).
#include <algorithm>

#include "channel_codec.h"
#include "chorus/operators/channel_growth.h"

namespace chorus::ops {

using channel_codec::ChannelKey;
using channel_codec::GetCounts;
using channel_codec::kChannelTag;
using channel_codec::kWindowTag;
using channel_codec::PutCounts;
using channel_codec::SpecIndexOfSize;
using channel_codec::WindowKey;

std::string ChannelGrowth::EncodeChannel(const PartialChannel& c) {
  std::string out;
  PutVarint(out, static_cast<uint64_t>(c.platform));
  PutCounts(out, c.totals);
  const FollowerState& f = c.followers;
  PutVarint(out, f.has_snapshot ? 1 : 0);
  if (f.has_snapshot) {
    PutSignedVarint(out, f.snapshot_value);
    PutSignedVarint(out, f.snapshot_ms);
  }
  PutSignedVarint(out, f.net_follows);
  PutVarint(out, f.deltas.size());
  // Seconds as gaps from the previous one: small numbers, short varints.
  int64_t prev = 0;
  for (const auto& [second, d] : f.deltas) {
    PutSignedVarint(out, second - prev);
    PutSignedVarint(out, d);
    prev = second;
  }
  return out;
}

bool ChannelGrowth::DecodeChannel(std::string_view value, PartialChannel& c) {
  Reader r(value);
  uint64_t platform = 0, flags = 0, n = 0;
  FollowerState& f = c.followers;
  if (!r.Varint(platform) || !GetCounts(r, c.totals) || !r.Varint(flags) || flags > 1) {
    return false;
  }
  c.platform = platform < kPlatformCount ? static_cast<Platform>(platform) : Platform::kUnspecified;
  f.has_snapshot = flags == 1;
  if (f.has_snapshot && (!r.SignedVarint(f.snapshot_value) || !r.SignedVarint(f.snapshot_ms))) {
    return false;
  }
  // Each delta takes at least two bytes, which bounds a corrupt count.
  if (!r.SignedVarint(f.net_follows) || !r.Varint(n) || n > r.rest().size() / 2) return false;
  f.deltas.clear();
  f.deltas.reserve(n);
  int64_t second = 0;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t gap = 0, d = 0;
    if (!r.SignedVarint(gap) || !r.SignedVarint(d)) return false;
    second += gap;
    f.deltas.emplace_back(second, d);
  }
  return r.empty();
}

void ChannelGrowth::DrainDirty(Mutations& out) {
  for (auto& [id, part] : partitions_) {
    // Deletes first: a window is deleted only once it closed for good.
    for (std::string& key : part.deleted_window_keys) {
      out.push_back(Mutation{Mutation::Op::kDelete, std::move(key), {}});
    }
    part.deleted_window_keys.clear();
    for (ChannelEntry* ch : part.dirty_channels) {
      ch->second.dirty = false;
      out.push_back(
          Mutation{Mutation::Op::kPut, ChannelKey(id, ch->first), EncodeChannel(ch->second)});
    }
    part.dirty_channels.clear();
    for (const DirtyWindow& dw : part.dirty_windows) {
      PartialWindow* w = FindWindow(dw.channel->second, dw.spec_index, dw.start_ms);
      if (w == nullptr || !w->dirty) continue;
      w->dirty = false;
      w->persisted = true;
      std::string value;
      PutCounts(value, w->counts);
      out.push_back(Mutation{Mutation::Op::kPut,
                             WindowKey(id, dw.spec_index, dw.start_ms, dw.channel->first),
                             std::move(value)});
    }
    part.dirty_windows.clear();
  }
}

bool ChannelGrowth::Restore(std::string_view key, std::string_view value) {
  int32_t partition = 0;
  if (!ParsePartitionPrefix(key, partition) || key.size() < 5) return false;
  char tag = key[4];
  Reader r(key.substr(5));
  if (tag == kChannelTag) {
    PartialChannel decoded;
    if (!DecodeChannel(value, decoded)) return false;
    PartialChannel& c = FindOrAddChannel(partitions_[partition], r.rest()).second;
    c.platform = decoded.platform;
    c.totals = decoded.totals;
    c.followers = std::move(decoded.followers);
    return true;
  }
  uint64_t size_ms = 0, ordered_start = 0;
  if (tag != kWindowTag || !r.Fixed64BE(size_ms) || !r.Fixed64BE(ordered_start)) return false;
  int spec_index = SpecIndexOfSize(size_ms);
  ChannelCounts counts;
  Reader v(value);
  if (spec_index < 0 || !GetCounts(v, counts) || !v.empty()) return false;
  int64_t start_ms = FromOrderedBits(ordered_start);
  if (WindowStart(EventTime::FromMillis(start_ms), kWindowSpecs[spec_index].size).millis() !=
      start_ms) {
    return false;  // not a window boundary: a corrupt key
  }
  ChannelEntry& channel = FindOrAddChannel(partitions_[partition], r.rest());
  PartialWindow& w = FindOrOpenWindow(partition, channel, spec_index, start_ms);
  w.counts = counts;
  w.persisted = true;
  return true;
}

}  // namespace chorus::ops
