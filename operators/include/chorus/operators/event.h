// The engagement event as operators see it: a plain struct with no protobuf,
// Kafka or allocation behind it.
//
// Enum values mirror proto/chorus/v1/engagement.proto number for number, so
// the decoder converts with a range check. Values from a newer schema that
// this build does not know are mapped to the kUnspecified of their enum by
// the decoder, never passed through; only EventKind is required to be known
// (validation rejects kUnspecified).
//
// Strings are views into the decoded record and are valid only while the
// operator call that received the Event runs; operators copy what they keep.
#pragma once

#include <cstdint>
#include <string_view>

#include "chorus/operators/time.h"

namespace chorus::ops {

enum class Platform : uint8_t {
  kUnspecified = 0,
  kTwitter,
  kFacebook,
  kInstagram,
  kLinkedin,
  kYoutube,
  kTiktok,
  kForum,
  kBlog,
  kDiscord,
  kSlack,
  kEmail,
  kEvents,
  kOther,
  kGithub,
  kReddit,
  kMastodon,
};
inline constexpr int kPlatformCount = 17;

enum class EventKind : uint8_t {
  kUnspecified = 0,
  kPostPublished,
  kImpression,
  kFollow,
  kUnfollow,
  kReaction,
  kComment,
  kShare,
  kMention,
  kDirectMessage,
  kForumPost,
  kEventAttended,
  kMemberJoined,
  kModerationAction,
  kFollowerCount,
  kContribution,
};
inline constexpr int kEventKindCount = 16;

enum class ActorRole : uint8_t { kUnspecified = 0, kMember, kBrand, kCommunityTeam };
inline constexpr int kActorRoleCount = 4;

enum class ContentType : uint8_t {
  kUnspecified = 0,
  kText,
  kImage,
  kVideo,
  kLink,
  kLive,
  kStory,
  kPoll,
  kEvent,
  kOther,
};
inline constexpr int kContentTypeCount = 10;

// Label values: the enum name in lower case without its prefix
// ("reaction", "community_team", "unspecified").
std::string_view Name(Platform v);
std::string_view Name(EventKind v);
std::string_view Name(ActorRole v);
std::string_view Name(ContentType v);

// An enum value as an array index of its enum's `count` values; one past
// the end (a newer schema's, should it get through) counts as kUnspecified.
template <typename E>
constexpr int IndexOf(E v, int count) {
  auto i = static_cast<int>(v);
  return i < count ? i : 0;
}

struct Event {
  std::string_view event_id;
  EventTime occurred_at;
  std::string_view channel_id;
  Platform platform = Platform::kUnspecified;
  EventKind kind = EventKind::kUnspecified;
  std::string_view member_id;
  ActorRole actor_role = ActorRole::kUnspecified;
  std::string_view content_id;
  ContentType content_type = ContentType::kUnspecified;
  bool has_sentiment = false;
  float sentiment = 0.0f;  // -1 … 1, meaningful only if has_sentiment
  std::string_view reply_to_event_id;
  uint64_t count = 0;  // 0 means 1; see Multiplicity()
  uint64_t member_reach = 0;
};

// How many occurrences one event stands for (pre-aggregated impressions).
constexpr uint64_t Multiplicity(const Event& e) { return e.count == 0 ? 1 : e.count; }

// A 64-bit hash of an id that never changes between builds or platforms:
// stored keys and values hold it (dedup, threads, posts, channel chunks).
uint64_t StableHash64(std::string_view s);

// The hashes operators find an event's records by: its id, the id it
// replies to (0 without one), and its post (its channel and content id; 0
// without a content id). The processor computes them once per event and
// hands them to dedup, threads and posts, for their prefetch and their
// lookup both, instead of each hashing the ids again (StableHash64 walks an
// id byte by byte, a multiply per byte).
struct IdHashes {
  uint64_t event_id = 0;
  uint64_t reply_to = 0;
  uint64_t post = 0;
};
IdHashes HashIds(const Event& e);

// True for an event acted by a community member (not the brand or the team).
constexpr bool IsMemberAction(const Event& e) {
  return e.actor_role == ActorRole::kMember && !e.member_id.empty();
}

// True for an engagement as chorus counts them (chorus_channel_engagements_total,
// post performance): a member's reaction, comment, share or mention.
constexpr bool IsMemberEngagement(const Event& e) {
  return (e.kind == EventKind::kReaction || e.kind == EventKind::kComment ||
          e.kind == EventKind::kShare || e.kind == EventKind::kMention) &&
         IsMemberAction(e);
}

}  // namespace chorus::ops
