// The generator's message building and per-member traits: everything that
// turns a decision made in generator.cc into fields of the reused message.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "chorus/operators/event.h"
#include "generator_model.h"

namespace chorus {
namespace gen {

std::vector<double> ZipfCdf(int n, double s) {
  std::vector<double> cdf(n);
  double sum = 0;
  for (int i = 0; i < n; ++i) cdf[i] = sum += std::pow(i + 1.0, -s);
  return cdf;
}

int SampleCdf(const std::vector<double>& cdf, double u) {
  auto it = std::upper_bound(cdf.begin(), cdf.end(), u * cdf.back());
  return static_cast<int>(std::min<ptrdiff_t>(it - cdf.begin(), cdf.size() - 1));
}

void AppendUint(std::string& s, uint64_t v) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

void AppendPadded(std::string& s, uint64_t v, size_t width) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  size_t len = r.ptr - buf;
  if (len < width) s.append(width - len, '0');
  s.append(buf, len);
}

}  // namespace gen

using gen::AppendPadded;
using gen::AppendUint;
using gen::Channel;
using gen::ContentRef;
using gen::kRecentPosts;
using gen::kTeamSize;
using gen::MemberTraits;
using gen::Opener;
using gen::PendingReply;
using gen::SampleCdf;

void Generator::Model::Begin(v1::EventKind kind, int32_t channel, v1::ActorRole role) {
  ++seq;
  std::string* id = msg.mutable_event_id();
  id->clear();
  AppendEventId(*id, seq);
  const auto ms = static_cast<int64_t>(now_ms);
  const int64_t secs = ops::FloorDiv(ms, 1000);
  msg.mutable_occurred_at()->set_seconds(secs);
  msg.mutable_occurred_at()->set_nanos(static_cast<int32_t>((ms - secs * 1000) * 1'000'000));
  msg.mutable_channel_id()->assign(channels[channel].id);
  msg.set_platform(channels[channel].platform);
  msg.set_kind(kind);
  msg.set_actor_role(role);
  msg.mutable_member_id()->clear();
  msg.mutable_content_id()->clear();
  msg.set_content_type(v1::CONTENT_TYPE_UNSPECIFIED);
  msg.clear_sentiment();
  msg.mutable_reply_to_event_id()->clear();
  msg.set_count(0);
  msg.set_member_reach(0);
}

void Generator::Model::SetMember(int32_t member) {
  std::string* s = msg.mutable_member_id();
  s->assign("m-");
  AppendPadded(*s, static_cast<uint64_t>(member), 6);
}

void Generator::Model::SetTeamMember() {
  std::string* s = msg.mutable_member_id();
  s->assign("team-");
  AppendUint(*s, 1 + rng.Below(kTeamSize));
}

void Generator::Model::SetContent(int32_t channel, ContentRef c) {
  std::string* s = msg.mutable_content_id();
  s->clear();
  if (c.tag == 0) return;
  s->append(channels[channel].id).push_back('/');
  s->push_back(c.tag);
  s->push_back('/');
  AppendUint(*s, static_cast<uint64_t>(c.n));
}

// Members engage mostly with the newest posts.
ContentRef Generator::Model::RecentPost(int32_t channel, v1::ContentType& type) {
  const Channel& ch = channels[channel];
  const int64_t oldest = std::min<int64_t>(ch.posts, kRecentPosts) - 1;
  const int64_t age = std::min(static_cast<int64_t>(rng.Exponential(2.0)), oldest);
  const int64_t n = ch.posts - 1 - age;
  type = ch.post_types[n % kRecentPosts];
  return {'p', n};
}

void Generator::Model::AppendEventId(std::string& s, uint64_t n) const {
  s.push_back('g');
  AppendUint(s, o.seed);
  s.push_back('-');
  AppendUint(s, n);
}

int32_t Generator::Model::MemberAt(int rank) const {
  return static_cast<int32_t>((rank * member_stride + member_offset) % joined.size());
}

MemberTraits Generator::Model::Traits(int32_t member) const {
  const uint64_t h = gen::Mix(o.seed ^ (static_cast<uint64_t>(member) << 20));
  const uint64_t h2 = gen::Mix(h);
  const uint64_t h3 = gen::Mix(h2);
  MemberTraits t;
  t.home = SampleCdf(channel_cdf, gen::UnitOf(h));
  // Most members lean positive; a few detractors lean clearly negative.
  t.bias = gen::UnitOf(h2) < 0.08 ? -0.45 : 0.65 * gen::UnitOf(h3) - 0.1;
  t.reach = static_cast<uint64_t>(20 * std::exp(gen::UnitOf(gen::Mix(h3)) * std::log(10'000.0)));
  return t;
}

int32_t Generator::Model::ChannelFor(v1::EventKind kind, int32_t home) {
  switch (kind) {
    case v1::EVENT_KIND_MEMBER_JOINED:
      return home;
    case v1::EVENT_KIND_FORUM_POST:
      return channels[home].community ? home : AnyOf(community, home);
    case v1::EVENT_KIND_EVENT_ATTENDED:
      return AnyOf(events, AnyOf(community, home));
    case v1::EVENT_KIND_CONTRIBUTION:
      return AnyOf(github, AnyOf(community, home));
    default:
      return rng.Uniform() < 0.7 ? home : SampleCdf(channel_cdf, rng.Uniform());
  }
}

int32_t Generator::Model::AnyOf(const std::vector<int32_t>& list, int32_t fallback) {
  return list.empty() ? fallback : list[rng.Below(list.size())];
}

}  // namespace chorus
