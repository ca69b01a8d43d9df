// Private to the generator: the model behind Generator, its state and the
// small records it keeps. generator.cc decides what happens next;
// generator_message.cc turns a decision into the reused protobuf message.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "chorus/pipeline/generator.h"
#include "chorus/v1/engagement.pb.h"
#include "generator_tables.h"

namespace chorus {
namespace gen {

// Posts per channel that members still engage with.
inline constexpr int kRecentPosts = 16;
// Recent thread openers, for peer replies and moderation.
inline constexpr size_t kOpenerRing = 1024;
// Duplicates re-send one of the last kHistory records.
inline constexpr size_t kHistory = 256;
inline constexpr size_t kMaxPendingReplies = 1 << 16;
inline constexpr int kTeamSize = 3;
inline constexpr double kSnapshotIntervalMs = 3'600'000;  // each channel reports followers hourly
// Activity skew: member (and channel) ranks are Zipf-distributed, so a few
// members are very active and most appear a handful of times.
inline constexpr double kMemberZipf = 0.8;
inline constexpr double kChannelZipf = 0.7;
// Shares of spontaneous (not scheduled) events that are brand-side.
inline constexpr double kPostShare = 0.008;
inline constexpr double kImpressionShare = 0.07;
inline constexpr double kModerationShare = 0.003;

// A content id without its string: formatted as "<channel>/<tag>/<n>".
struct ContentRef {
  char tag = 0;  // 0 none, 'p' post, 't' thread, 'm' mention, 'e' event, 'c' contribution
  int64_t n = 0;
};

struct Channel {
  std::string id;
  v1::Platform platform = v1::PLATFORM_UNSPECIFIED;
  bool community = false;
  int64_t followers = 0;
  int64_t posts = 1;  // post 0 predates the stream, so there is always one to react to
  std::array<v1::ContentType, kRecentPosts> post_types{};
};

// A member event that opens a thread someone may answer.
struct Opener {
  uint64_t seq = 0;
  int32_t member = 0;
  int32_t channel = 0;
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  ContentRef content;
};

struct PendingReply {
  double due_ms = 0;
  Opener opener;
  bool team = false;
  bool operator>(const PendingReply& o) const { return due_ms > o.due_ms; }
};

struct MemberTraits {
  int32_t home = 0;    // the channel the member mostly uses
  double bias = 0;     // mean sentiment
  uint64_t reach = 0;  // own audience size
};

// Cumulative weights 1/rank^s for ranks 1..n, and sampling from them.
std::vector<double> ZipfCdf(int n, double s);
int SampleCdf(const std::vector<double>& cdf, double u);

// Decimal formatting into a reused string (no allocation once warm).
void AppendUint(std::string& s, uint64_t v);
void AppendPadded(std::string& s, uint64_t v, size_t width);

}  // namespace gen

struct Generator::Model {
  explicit Model(const GeneratorOptions& options);
  void Next(GeneratedRecord& out);

  // Scheduling: the next event is a scheduled one (snapshot, reply) when it
  // falls before the next spontaneous one.
  void NextEvent();
  double RateFactor(double t_ms) const;
  bool InDrop() const;
  bool EmitSpontaneous();
  bool EmitMemberEvent();
  void EmitMemberKind(int32_t member, const gen::MemberTraits& tr, v1::EventKind kind);
  void EmitPeerReply(int32_t member, const gen::MemberTraits& tr, const gen::Opener& op);
  void EmitReply(const gen::PendingReply& r);
  void EmitSnapshot();
  void EmitPost();
  void EmitImpression();
  void EmitModeration();
  void EmitMalformed(GeneratedRecord& out);
  void MaybeOpenThread(int32_t member, int32_t channel, v1::EventKind kind,
                       gen::ContentRef content);

  // Message building. Strings are assigned in place so that a warm message
  // reuses their capacity instead of allocating.
  void Begin(v1::EventKind kind, int32_t channel, v1::ActorRole role);
  void SetMember(int32_t member);
  void SetTeamMember();
  void SetContent(int32_t channel, gen::ContentRef c);
  gen::ContentRef RecentPost(int32_t channel, v1::ContentType& type);
  void AppendEventId(std::string& s, uint64_t seq) const;

  int32_t MemberAt(int rank) const;
  gen::MemberTraits Traits(int32_t member) const;
  int32_t ChannelFor(v1::EventKind kind, int32_t home);
  int32_t AnyOf(const std::vector<int32_t>& list, int32_t fallback);

  GeneratorOptions o;
  gen::Rng rng;
  v1::EngagementEvent msg;
  std::vector<gen::Channel> channels;
  std::vector<int32_t> community, events, github;  // channel indexes by use
  std::vector<double> channel_cdf, member_cdf;
  uint64_t member_stride = 1, member_offset = 0;
  std::vector<uint8_t> joined;
  double now_ms = 0;
  uint64_t seq = 0;  // events generated; the event id's number
  double next_snapshot_ms = 0;
  size_t snapshot_cursor = 0;
  std::priority_queue<gen::PendingReply, std::vector<gen::PendingReply>, std::greater<>> replies;
  std::vector<gen::Opener> openers;  // ring of kOpenerRing
  size_t openers_written = 0;
  std::vector<GeneratedRecord> history;  // ring of kHistory, only with duplicates
  size_t history_written = 0;
};

}  // namespace chorus
