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

std::string_view Name(Platform v) { return Lookup(kPlatformNames, v); }
std::string_view Name(EventKind v) { return Lookup(kKindNames, v); }
std::string_view Name(ActorRole v) { return Lookup(kRoleNames, v); }
std::string_view Name(ContentType v) { return Lookup(kContentNames, v); }

}  // namespace chorus::ops
