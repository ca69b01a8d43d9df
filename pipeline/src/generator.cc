// What the synthetic workload does next: scheduling (exponential gaps with a
// daily and weekly rhythm, follower snapshots, delayed replies), the event
// mix, duplicates and malformed records. See generator_model.h.
#include "chorus/pipeline/generator.h"

#include <algorithm>
#include <numbers>
#include <numeric>

#include "chorus/operators/event.h"
#include "generator_model.h"

namespace chorus {

using gen::AppendUint;
using gen::Channel;
using gen::ContentRef;
using gen::kChannelZipf;
using gen::kHistory;
using gen::kImpressionShare;
using gen::kMaxPendingReplies;
using gen::kMemberZipf;
using gen::kModerationShare;
using gen::kOpenerRing;
using gen::kPostShare;
using gen::kRecentPosts;
using gen::kSnapshotIntervalMs;
using gen::MemberTraits;
using gen::Opener;
using gen::PendingReply;
using gen::SampleCdf;
using gen::ZipfCdf;

Generator::Model::Model(const GeneratorOptions& options) : o(options), rng(options.seed) {
  o.channels = std::max(o.channels, 1);
  o.members = std::max(o.members, 1);
  for (int i = 0; i < o.channels; ++i) {
    Channel c;
    c.platform = gen::kChannelPlatforms[i % gen::kChannelPlatforms.size()];
    c.community = gen::IsCommunityPlatform(c.platform);
    c.id.append(ops::Name(static_cast<ops::Platform>(c.platform))).append(":brand-");
    AppendUint(c.id, i);
    c.followers = static_cast<int64_t>(rng.LogUniform(2'000, 250'000));
    c.post_types.fill(gen::PostContentType(c.platform, rng.Uniform()));
    if (c.community) community.push_back(i);
    if (c.platform == v1::PLATFORM_EVENTS) events.push_back(i);
    if (c.platform == v1::PLATFORM_GITHUB) github.push_back(i);
    channels.push_back(std::move(c));
  }
  channel_cdf = ZipfCdf(o.channels, kChannelZipf);
  member_cdf = ZipfCdf(o.members, kMemberZipf);
  // Ranks map to ids through a permutation, so the busiest members are
  // scattered over the id space rather than being m-000000, m-000001, ...
  const uint64_t n = o.members;
  member_stride = gen::Mix(o.seed) % n | 1;
  while (std::gcd(member_stride, n) != 1) ++member_stride;
  member_offset = gen::Mix(o.seed + 1) % n;
  joined.assign(n, 0);
  now_ms = static_cast<double>(o.start.millis());
  next_snapshot_ms = now_ms;
  openers.resize(kOpenerRing);
  if (o.duplicate_rate > 0) history.resize(kHistory);
  msg.mutable_occurred_at();  // allocated once, kept for the generator's life
}

void Generator::Model::Next(GeneratedRecord& out) {
  double u = rng.Uniform();
  if (u < o.duplicate_rate) {
    if (history_written > 0) {
      out = history[rng.Below(std::min(history_written, kHistory))];
      return;
    }
  } else if (u < o.duplicate_rate + o.malformed_rate) {
    EmitMalformed(out);
    return;
  }
  NextEvent();
  if (!msg.SerializeToString(&out.value)) std::abort();  // all fields are ours: a bug
  out.key.assign(msg.member_id());
  out.event_time_ms = static_cast<int64_t>(now_ms);
  if (!history.empty()) history[history_written++ % kHistory] = out;
}

void Generator::Model::NextEvent() {
  for (;;) {
    double t =
        now_ms + rng.Exponential(static_cast<double>(o.mean_gap.count())) / RateFactor(now_ms);
    // Gaps are exponential (memoryless), so when a scheduled event comes
    // first, dropping the drawn gap and drawing again later is unbiased.
    bool reply_due = !replies.empty() && replies.top().due_ms <= t;
    if (next_snapshot_ms <= t && (!reply_due || next_snapshot_ms <= replies.top().due_ms)) {
      now_ms = std::max(now_ms, next_snapshot_ms);
      EmitSnapshot();
      return;
    }
    if (reply_due) {
      PendingReply r = replies.top();
      replies.pop();
      now_ms = std::max(now_ms, r.due_ms);
      EmitReply(r);
      return;
    }
    now_ms = t;
    if (EmitSpontaneous()) return;
  }
}

// Activity follows the clock: a daily swing peaking mid-afternoon UTC and
// quieter weekends. The factors average to about 1 over a week.
double Generator::Model::RateFactor(double t_ms) const {
  const auto ms = static_cast<int64_t>(t_ms);
  const int64_t day = ops::FloorDiv(ms, ops::kDay.count());
  const double hour = static_cast<double>(ms - day * ops::kDay.count()) / 3.6e6;
  const int64_t weekday = ((day + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday; 0 = Monday
  const double weekly = weekday >= 5 ? 0.75 : 1.1;
  return weekly * (1.0 + 0.5 * std::sin(2 * std::numbers::pi * (hour - 9.0) / 24.0));
}

bool Generator::Model::InDrop() const {
  const auto t = static_cast<int64_t>(now_ms);
  return o.drop_start && o.drop_end && t >= o.drop_start->millis() && t < o.drop_end->millis();
}

bool Generator::Model::EmitSpontaneous() {
  double u = rng.Uniform();
  if (u < kPostShare) {
    EmitPost();
  } else if (u < kPostShare + kImpressionShare) {
    EmitImpression();
  } else if (u < kPostShare + kImpressionShare + kModerationShare) {
    EmitModeration();
  } else {
    return EmitMemberEvent();
  }
  return true;
}

bool Generator::Model::EmitMemberEvent() {
  // In the drop window only drop_factor of member events happen; the time
  // they would have taken still passes.
  if (InDrop() && rng.Uniform() >= o.drop_factor) return false;
  const int32_t member = MemberAt(SampleCdf(member_cdf, rng.Uniform()));
  const MemberTraits tr = Traits(member);
  v1::EventKind kind = v1::EVENT_KIND_MEMBER_JOINED;
  if (joined[member]) kind = gen::Pick<v1::EventKind>(gen::kMemberKinds, rng.Uniform());
  joined[member] = 1;
  if (kind == v1::EVENT_KIND_COMMENT && openers_written > 0 && rng.Uniform() < 0.25) {
    const Opener& op = openers[rng.Below(std::min(openers_written, kOpenerRing))];
    if (op.member != member) {
      EmitPeerReply(member, tr, op);
      return true;
    }
  }
  EmitMemberKind(member, tr, kind);
  return true;
}

void Generator::Model::EmitMemberKind(int32_t member, const MemberTraits& tr, v1::EventKind kind) {
  const int32_t c = ChannelFor(kind, tr.home);
  Begin(kind, c, v1::ACTOR_ROLE_MEMBER);
  SetMember(member);
  ContentRef content;
  v1::ContentType type = v1::CONTENT_TYPE_UNSPECIFIED;
  double sentiment_share = 0.6;
  switch (kind) {
    case v1::EVENT_KIND_REACTION:
      sentiment_share = 0.1;  // a reaction is scored only when it is an emotion
      [[fallthrough]];
    case v1::EVENT_KIND_COMMENT:
    case v1::EVENT_KIND_SHARE:
      content = RecentPost(c, type);
      break;
    case v1::EVENT_KIND_MENTION:
      content = {'m', static_cast<int64_t>(seq)};
      type = gen::PostContentType(v1::PLATFORM_TWITTER, rng.Uniform());
      break;
    case v1::EVENT_KIND_FORUM_POST:
      content = {'t', static_cast<int64_t>(seq)};
      type = v1::CONTENT_TYPE_TEXT;
      break;
    case v1::EVENT_KIND_DIRECT_MESSAGE:
      type = v1::CONTENT_TYPE_TEXT;
      break;
    case v1::EVENT_KIND_EVENT_ATTENDED:  // one event a day per channel
      content = {'e', ops::DayIndex(ops::EventTime::FromMillis(static_cast<int64_t>(now_ms)))};
      type = v1::CONTENT_TYPE_EVENT;
      break;
    case v1::EVENT_KIND_CONTRIBUTION:
      content = {'c', static_cast<int64_t>(seq)};
      type = v1::CONTENT_TYPE_OTHER;
      break;
    case v1::EVENT_KIND_FOLLOW:
      ++channels[c].followers;
      sentiment_share = 0;
      break;
    case v1::EVENT_KIND_UNFOLLOW:
      channels[c].followers = std::max<int64_t>(channels[c].followers - 1, 0);
      sentiment_share = 0;
      break;
    default:
      sentiment_share = 0;
      break;
  }
  SetContent(c, content);
  msg.set_content_type(type);
  if (rng.Uniform() < sentiment_share) {
    msg.set_sentiment(static_cast<float>(std::clamp(tr.bias + 0.35 * rng.Bell(), -1.0, 1.0)));
  }
  if (kind != v1::EVENT_KIND_REACTION && rng.Uniform() < 0.4) msg.set_member_reach(tr.reach);
  MaybeOpenThread(member, c, kind, content);
}

void Generator::Model::EmitPeerReply(int32_t member, const MemberTraits& tr, const Opener& op) {
  Begin(v1::EVENT_KIND_COMMENT, op.channel, v1::ACTOR_ROLE_MEMBER);
  SetMember(member);
  SetContent(op.channel, op.content);
  msg.set_content_type(v1::CONTENT_TYPE_TEXT);
  AppendEventId(*msg.mutable_reply_to_event_id(), op.seq);
  if (rng.Uniform() < 0.6) {
    msg.set_sentiment(static_cast<float>(std::clamp(tr.bias + 0.35 * rng.Bell(), -1.0, 1.0)));
  }
}

// Some member conversation gets an answer from the brand or the community
// team, after a delay; the reply is scheduled now and emitted in time order.
void Generator::Model::MaybeOpenThread(int32_t member, int32_t channel, v1::EventKind kind,
                                       ContentRef content) {
  double answer_rate = 0;
  switch (kind) {
    case v1::EVENT_KIND_DIRECT_MESSAGE:
      answer_rate = 0.8;
      break;
    case v1::EVENT_KIND_FORUM_POST:
      answer_rate = 0.5;
      break;
    case v1::EVENT_KIND_MENTION:
      answer_rate = 0.3;
      break;
    case v1::EVENT_KIND_COMMENT:
      answer_rate = 0.15;
      break;
    default:
      return;
  }
  Opener op{seq, member, channel, kind, content};
  openers[openers_written++ % kOpenerRing] = op;
  if (rng.Uniform() >= answer_rate || replies.size() >= kMaxPendingReplies) return;
  double team_rate = channels[channel].community ? 0.8 : 0.25;
  if (kind == v1::EVENT_KIND_DIRECT_MESSAGE) team_rate = 0.6;
  const bool team = rng.Uniform() < team_rate;
  const double mean_delay_ms = team ? 40 * 60'000.0 : 90 * 60'000.0;
  replies.push({now_ms + 30'000 + rng.Exponential(mean_delay_ms), op, team});
}

void Generator::Model::EmitReply(const PendingReply& r) {
  v1::EventKind kind = v1::EVENT_KIND_COMMENT;  // answers in kind: a DM with a DM, a thread in it
  if (r.opener.kind == v1::EVENT_KIND_DIRECT_MESSAGE) kind = v1::EVENT_KIND_DIRECT_MESSAGE;
  if (r.opener.kind == v1::EVENT_KIND_FORUM_POST) kind = v1::EVENT_KIND_FORUM_POST;
  Begin(kind, r.opener.channel, r.team ? v1::ACTOR_ROLE_COMMUNITY_TEAM : v1::ACTOR_ROLE_BRAND);
  if (r.team) SetTeamMember();
  SetContent(r.opener.channel, r.opener.content);
  msg.set_content_type(v1::CONTENT_TYPE_TEXT);
  AppendEventId(*msg.mutable_reply_to_event_id(), r.opener.seq);
}

void Generator::Model::EmitSnapshot() {
  const auto c = static_cast<int32_t>(snapshot_cursor);
  Begin(v1::EVENT_KIND_FOLLOWER_COUNT, c, v1::ACTOR_ROLE_BRAND);
  msg.set_count(static_cast<uint64_t>(channels[c].followers));
  snapshot_cursor = (snapshot_cursor + 1) % channels.size();
  // Channels take turns, so each reports once per interval, staggered.
  next_snapshot_ms += kSnapshotIntervalMs / static_cast<double>(channels.size());
}

void Generator::Model::EmitPost() {
  const int32_t c = SampleCdf(channel_cdf, rng.Uniform());
  Channel& ch = channels[c];
  const int64_t n = ch.posts++;
  const v1::ContentType type = gen::PostContentType(ch.platform, rng.Uniform());
  ch.post_types[n % kRecentPosts] = type;
  Begin(v1::EVENT_KIND_POST_PUBLISHED, c, v1::ACTOR_ROLE_BRAND);
  SetContent(c, {'p', n});
  msg.set_content_type(type);
}

void Generator::Model::EmitImpression() {
  const int32_t c = SampleCdf(channel_cdf, rng.Uniform());
  Begin(v1::EVENT_KIND_IMPRESSION, c, v1::ACTOR_ROLE_BRAND);
  v1::ContentType type = v1::CONTENT_TYPE_UNSPECIFIED;
  SetContent(c, RecentPost(c, type));
  msg.set_content_type(type);
  // Platforms report impressions pre-aggregated, in batches.
  msg.set_count(static_cast<uint64_t>(std::llround(rng.LogUniform(50, 5000))));
}

void Generator::Model::EmitModeration() {
  if (openers_written == 0) {
    Begin(v1::EVENT_KIND_MODERATION_ACTION, SampleCdf(channel_cdf, rng.Uniform()),
          v1::ACTOR_ROLE_COMMUNITY_TEAM);
    SetTeamMember();
    return;
  }
  const Opener& op = openers[rng.Below(std::min(openers_written, kOpenerRing))];
  Begin(v1::EVENT_KIND_MODERATION_ACTION, op.channel, v1::ACTOR_ROLE_COMMUNITY_TEAM);
  SetTeamMember();
  SetContent(op.channel, op.content);
}

// Garbage that can never decode as a valid event, in three shapes a real
// topic sees: random bytes, a message cut short, and broken Confluent framing.
void Generator::Model::EmitMalformed(GeneratedRecord& out) {
  out.key.clear();
  out.event_time_ms = static_cast<int64_t>(now_ms);
  const double u = rng.Uniform();
  // The previous event starts with its event_id (field 1, a short string);
  // cutting inside that string leaves a length that overruns the buffer.
  if (u < 0.4 && seq > 0 && msg.event_id().size() >= 2 && msg.SerializeToString(&out.value)) {
    out.value.resize(3 + rng.Below(msg.event_id().size() - 1));
    return;
  }
  if (u < 0.8) {
    out.value.resize(8 + rng.Below(56));
    for (char& b : out.value) b = static_cast<char>(rng.Bits());
    // Wire type 7 does not exist, so the first tag already fails to parse.
    out.value[0] = static_cast<char>(((1 + rng.Below(15)) << 3) | 7);
    return;
  }
  out.value.assign(1 + rng.Below(5), '\0');  // magic byte, then too short for a schema id
}

Generator::Generator(GeneratorOptions options)
    : options_(std::move(options)), model_(std::make_unique<Model>(options_)) {}
Generator::~Generator() = default;

void Generator::Next(GeneratedRecord& out) { model_->Next(out); }

}  // namespace chorus
