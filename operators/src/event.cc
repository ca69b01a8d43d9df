#include "chorus/operators/event.h"

#include <array>

namespace chorus::ops {
namespace {

template <size_t N, typename E>
std::string_view Lookup(const std::array<std::string_view, N>& names, E v) {
  auto i = static_cast<size_t>(v);
  return i < N ? names[i] : names[0];
}

constexpr std::array<std::string_view, kPlatformCount> kPlatformNames = {
    "unspecified", "twitter", "facebook", "instagram", "linkedin", "youtube",
    "tiktok",      "forum",   "blog",     "discord",   "slack",    "email",
    "events",      "other",   "github",   "reddit",    "mastodon"};
constexpr std::array<std::string_view, kEventKindCount> kKindNames = {
    "unspecified",   "post_published",    "impression",     "follow",
    "unfollow",      "reaction",          "comment",        "share",
    "mention",       "direct_message",    "forum_post",     "event_attended",
    "member_joined", "moderation_action", "follower_count", "contribution"};
constexpr std::array<std::string_view, kActorRoleCount> kRoleNames = {"unspecified", "member",
                                                                      "brand", "community_team"};
constexpr std::array<std::string_view, kContentTypeCount> kContentNames = {
    "unspecified", "text", "image", "video", "link", "live", "story", "poll", "event", "other"};

}  // namespace

uint64_t StableHash64(std::string_view s) {
  // FNV-1a is fixed by its spec (stable across builds and platforms); the
  // murmur3 fmix64 finalizer spreads it over all 64 bits, so the hash
  // table may index by its low bits.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

IdHashes HashIds(const Event& e) {
  IdHashes h;
  h.event_id = StableHash64(e.event_id);
  if (!e.reply_to_event_id.empty()) h.reply_to = StableHash64(e.reply_to_event_id);
  // Stable too (stored keys hold it): the two ids' hashes combined so that
  // (a, b) and (b, a) differ.
  if (!e.content_id.empty()) {
    h.post = StableHash64(e.content_id) ^ (StableHash64(e.channel_id) * 0x9e3779b97f4a7c15ULL);
  }
  return h;
}

std::string_view Name(Platform v) { return Lookup(kPlatformNames, v); }
std::string_view Name(EventKind v) { return Lookup(kKindNames, v); }
std::string_view Name(ActorRole v) { return Lookup(kRoleNames, v); }
std::string_view Name(ContentType v) { return Lookup(kContentNames, v); }

}  // namespace chorus::ops
