// Private to generator.cc: the random-number helpers and the tables that
// shape the synthetic workload (kind mix, platforms, content types).
//
// The distributions are written out here rather than taken from <random>:
// the standard leaves std::*_distribution algorithms to the library, and the
// generator promises the same bytes for a seed wherever it is built.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>

#include "chorus/v1/engagement.pb.h"

namespace chorus::gen {

// A seeded engine plus the few distributions the generator needs.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Bits() { return engine_(); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n); n > 0. The modulo bias is below 2^-40 for the
  // sizes used here.
  uint64_t Below(uint64_t n) { return engine_() % n; }
  // Exponential with the given mean (inverse transform).
  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }
  // Log-uniform in [lo, hi]: as many values per decade, like audience sizes.
  double LogUniform(double lo, double hi) { return lo * std::exp(Uniform() * std::log(hi / lo)); }
  // Roughly normal with mean 0 and standard deviation 1 (Irwin-Hall of 4).
  double Bell() { return (Uniform() + Uniform() + Uniform() + Uniform() - 2.0) * std::sqrt(3.0); }

 private:
  std::mt19937_64 engine_;
};

// A stateless 64-bit mix (splitmix64's finalizer): per-member traits are
// derived from (seed, member) so they cost no memory per member.
constexpr uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline double UnitOf(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

template <typename T>
struct Weighted {
  T value;
  double weight;
};

// Picks from a small table by weight, with `u` uniform in [0, 1).
template <typename T>
T Pick(std::span<const Weighted<T>> table, double u) {
  double total = 0;
  for (const auto& w : table) total += w.weight;
  double x = u * total;
  for (const auto& w : table) {
    if (x < w.weight) return w.value;
    x -= w.weight;
  }
  return table.back().value;
}

// What members do, by relative frequency: reactions dominate, follows
// outnumber unfollows (channels grow), and the rest is conversation.
inline constexpr std::array<Weighted<v1::EventKind>, 10> kMemberKinds = {{
    {v1::EVENT_KIND_REACTION, 46},
    {v1::EVENT_KIND_COMMENT, 14},
    {v1::EVENT_KIND_SHARE, 7},
    {v1::EVENT_KIND_MENTION, 5},
    {v1::EVENT_KIND_FOLLOW, 6},
    {v1::EVENT_KIND_UNFOLLOW, 1.5},
    {v1::EVENT_KIND_FORUM_POST, 6},
    {v1::EVENT_KIND_DIRECT_MESSAGE, 3},
    {v1::EVENT_KIND_EVENT_ATTENDED, 1.5},
    {v1::EVENT_KIND_CONTRIBUTION, 2.5},
}};

// Channel i is on kChannelPlatforms[i % size]; the community platforms come
// early so that even a handful of channels has a forum, GitHub and events.
inline constexpr std::array<v1::Platform, 15> kChannelPlatforms = {
    v1::PLATFORM_TWITTER,  v1::PLATFORM_INSTAGRAM, v1::PLATFORM_FORUM,  v1::PLATFORM_LINKEDIN,
    v1::PLATFORM_YOUTUBE,  v1::PLATFORM_GITHUB,    v1::PLATFORM_EVENTS, v1::PLATFORM_DISCORD,
    v1::PLATFORM_FACEBOOK, v1::PLATFORM_TIKTOK,    v1::PLATFORM_REDDIT, v1::PLATFORM_SLACK,
    v1::PLATFORM_BLOG,     v1::PLATFORM_MASTODON,  v1::PLATFORM_EMAIL,
};

// Platforms where people talk with each other and the community team
// answers, rather than the brand's social account.
inline bool IsCommunityPlatform(v1::Platform p) {
  switch (p) {
    case v1::PLATFORM_FORUM:
    case v1::PLATFORM_DISCORD:
    case v1::PLATFORM_SLACK:
    case v1::PLATFORM_GITHUB:
    case v1::PLATFORM_REDDIT:
    case v1::PLATFORM_EVENTS:
    case v1::PLATFORM_EMAIL:
      return true;
    default:
      return false;
  }
}

// What a brand posts on each platform.
inline v1::ContentType PostContentType(v1::Platform p, double u) {
  using W = Weighted<v1::ContentType>;
  static constexpr W kTwitter[] = {{v1::CONTENT_TYPE_TEXT, 40},
                                   {v1::CONTENT_TYPE_IMAGE, 30},
                                   {v1::CONTENT_TYPE_VIDEO, 15},
                                   {v1::CONTENT_TYPE_LINK, 10},
                                   {v1::CONTENT_TYPE_POLL, 5}};
  static constexpr W kInstagram[] = {{v1::CONTENT_TYPE_IMAGE, 50},
                                     {v1::CONTENT_TYPE_VIDEO, 25},
                                     {v1::CONTENT_TYPE_STORY, 20},
                                     {v1::CONTENT_TYPE_LIVE, 5}};
  static constexpr W kVideo[] = {{v1::CONTENT_TYPE_VIDEO, 88}, {v1::CONTENT_TYPE_LIVE, 12}};
  static constexpr W kLinkedin[] = {{v1::CONTENT_TYPE_TEXT, 40},
                                    {v1::CONTENT_TYPE_LINK, 30},
                                    {v1::CONTENT_TYPE_IMAGE, 20},
                                    {v1::CONTENT_TYPE_VIDEO, 10}};
  static constexpr W kFacebook[] = {{v1::CONTENT_TYPE_IMAGE, 35},
                                    {v1::CONTENT_TYPE_TEXT, 25},
                                    {v1::CONTENT_TYPE_VIDEO, 20},
                                    {v1::CONTENT_TYPE_LINK, 15},
                                    {v1::CONTENT_TYPE_EVENT, 5}};
  static constexpr W kEvents[] = {{v1::CONTENT_TYPE_EVENT, 90}, {v1::CONTENT_TYPE_LIVE, 10}};
  static constexpr W kOther[] = {{v1::CONTENT_TYPE_TEXT, 70},
                                 {v1::CONTENT_TYPE_LINK, 20},
                                 {v1::CONTENT_TYPE_IMAGE, 8},
                                 {v1::CONTENT_TYPE_OTHER, 2}};
  switch (p) {
    case v1::PLATFORM_TWITTER:
    case v1::PLATFORM_MASTODON:
      return Pick<v1::ContentType>(kTwitter, u);
    case v1::PLATFORM_INSTAGRAM:
      return Pick<v1::ContentType>(kInstagram, u);
    case v1::PLATFORM_YOUTUBE:
    case v1::PLATFORM_TIKTOK:
      return Pick<v1::ContentType>(kVideo, u);
    case v1::PLATFORM_LINKEDIN:
      return Pick<v1::ContentType>(kLinkedin, u);
    case v1::PLATFORM_FACEBOOK:
      return Pick<v1::ContentType>(kFacebook, u);
    case v1::PLATFORM_EVENTS:
      return Pick<v1::ContentType>(kEvents, u);
    default:
      return Pick<v1::ContentType>(kOther, u);
  }
}

}  // namespace chorus::gen
