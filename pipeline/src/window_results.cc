#include "window_results.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>

namespace chorus {

namespace {

using ops::ContentType;
using ops::EventKind;

void SetTimestamp(google::protobuf::Timestamp& t, int64_t ms) {
  t.set_seconds(ops::FloorDiv(ms, 1000));
  t.set_nanos(static_cast<int32_t>((ms - ops::FloorDiv(ms, 1000) * 1000) * 1'000'000));
}

int64_t Millis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

uint64_t Kind(const ops::ChannelCounts& c, EventKind k) {
  return c.events_by_kind[static_cast<size_t>(k)];
}

}  // namespace

void FillChannelWindow(const ops::WindowResult& w, v1::ChannelWindow& out) {
  out.Clear();
  out.set_channel_id(std::string(w.channel_id));
  out.set_platform(static_cast<v1::Platform>(w.platform));
  out.set_window(std::string(w.spec->name));
  SetTimestamp(*out.mutable_start(), w.start.millis());
  SetTimestamp(*out.mutable_end(), w.end.millis());
  out.set_revision(w.revision);
  out.set_correction(w.revision > 0);
  const ops::ChannelCounts& c = w.counts;
  for (size_t k = 0; k < c.events_by_kind.size(); ++k) {
    if (c.events_by_kind[k] == 0) continue;
    auto* kc = out.add_events_by_kind();
    kc->set_kind(static_cast<v1::EventKind>(k));
    kc->set_count(c.events_by_kind[k]);
  }
  uint64_t posts = 0, engagements = 0;
  for (size_t t = 0; t < c.posts_by_content_type.size(); ++t) {
    posts += c.posts_by_content_type[t];
    engagements += c.engagements_by_content_type[t];
    if (c.posts_by_content_type[t] == 0 && c.engagements_by_content_type[t] == 0) continue;
    auto* tc = out.add_by_content_type();
    tc->set_content_type(static_cast<v1::ContentType>(t));
    tc->set_posts(c.posts_by_content_type[t]);
    tc->set_engagements(c.engagements_by_content_type[t]);
  }
  out.set_posts(posts);
  out.set_impressions(Kind(c, EventKind::kImpression));
  out.set_engagements(engagements);
  out.set_shares(Kind(c, EventKind::kShare));
  out.set_follows(Kind(c, EventKind::kFollow));
  out.set_unfollows(Kind(c, EventKind::kUnfollow));
  out.set_followers_start(w.followers_start);
  out.set_followers_end(w.followers_end);
  out.set_responses(w.responses.responses);
  out.set_response_seconds_sum(static_cast<double>(w.responses.response_ms) / 1000);
  out.set_first_responses(w.responses.first_responses);
  out.set_first_response_seconds_sum(static_cast<double>(w.responses.first_response_ms) / 1000);
}

std::string SerializeDeterministic(const v1::ChannelWindow& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string OutboxKey(uint64_t seq) {
  std::string key;
  ops::PutFixed64BE(key, seq);
  return key;
}

ops::Mutation EncodeOutbox(const OutputRecord& r) {
  ops::Mutation m{ops::Mutation::Op::kPut, OutboxKey(r.seq), {}};
  ops::PutLengthPrefixed(m.value, r.key);
  ops::PutSignedVarint(m.value, r.timestamp_ms);
  m.value.append(r.value);
  return m;
}

std::optional<OutputRecord> DecodeOutbox(std::string_view key, std::string_view value) {
  if (key.size() != 8) return std::nullopt;
  OutputRecord r;
  for (char c : key) r.seq = r.seq << 8 | static_cast<uint8_t>(c);
  ops::Reader reader(value);
  std::string_view k;
  if (!reader.LengthPrefixed(k) || !reader.SignedVarint(r.timestamp_ms)) return std::nullopt;
  r.key = std::string(k);
  r.value = std::string(reader.rest());
  return r;
}

WindowFigures FiguresOf(const v1::ChannelWindow& m) {
  WindowFigures f;
  f.platform = m.platform() >= 0 && m.platform() < ops::kPlatformCount
                   ? static_cast<ops::Platform>(m.platform())
                   : ops::Platform::kUnspecified;
  f.start_ms = Millis(m.start());
  f.end_ms = Millis(m.end());
  f.revision = m.revision();
  f.posts = m.posts();
  f.impressions = m.impressions();
  f.engagements = m.engagements();
  f.shares = m.shares();
  f.follows = m.follows();
  f.unfollows = m.unfollows();
  f.followers_start = m.followers_start();
  f.followers_end = m.followers_end();
  return f;
}

std::string RecentWindows::Prefix(std::string_view channel_id) {
  std::string key;
  ops::PutLengthPrefixed(key, channel_id);
  return key;
}

std::string RecentWindows::Key(std::string_view channel_id, int spec_index, int64_t start_ms) {
  std::string key = Prefix(channel_id);
  key.push_back(static_cast<char>(spec_index));
  ops::PutFixed64BE(key, ops::OrderedBits(start_ms));
  return key;
}

int RecentWindows::SpecOfKey(std::string_view key) {
  ops::Reader r(key);
  std::string_view id;
  if (!r.LengthPrefixed(id) || r.rest().size() != 9) return -1;
  int spec = static_cast<uint8_t>(r.rest()[0]);
  return spec < ops::kWindowSpecCount ? spec : -1;
}

void RecentWindows::Add(const v1::ChannelWindow& m, int spec_index, const std::string& value,
                        Writes& out) {
  WindowFigures f = FiguresOf(m);
  out[Key(m.channel_id(), spec_index, f.start_ms)] = value;
  Track(m.channel_id(), spec_index, f.start_ms, f, &out);
}

bool RecentWindows::Restore(std::string_view key, std::string_view value) {
  int spec = SpecOfKey(key);
  v1::ChannelWindow m;
  if (spec < 0 || !m.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  Track(m.channel_id(), spec, FiguresOf(m).start_ms, FiguresOf(m), nullptr);
  return true;
}

void RecentWindows::Track(const std::string& channel_id, int spec_index, int64_t start_ms,
                          const WindowFigures& f, Writes* out) {
  auto it = starts_.find(channel_id);
  if (it == starts_.end()) it = starts_.emplace(channel_id, decltype(it->second){}).first;
  std::deque<int64_t>& starts = it->second[spec_index];
  auto pos = std::lower_bound(starts.begin(), starts.end(), start_ms);
  if (pos == starts.end() || *pos != start_ms) starts.insert(pos, start_ms);
  while (starts.size() > kKept[spec_index]) {
    if (out != nullptr) (*out)[Key(channel_id, spec_index, starts.front())] = std::nullopt;
    starts.pop_front();
  }
  std::optional<WindowFigures>& latest = latest_[channel_id][spec_index];
  if (!latest || latest->start_ms <= f.start_ms) latest = f;
}

}  // namespace chorus
