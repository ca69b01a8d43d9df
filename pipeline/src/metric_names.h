// Names and help texts of the families that the live /metrics and a
// replay's backfill (backfill.h) both write, kept in one place so the two
// cannot drift apart: dashboards and rules query history and live alike.
// The names are a contract (DESIGN.md, Metrics).
#pragma once

#include <array>
#include <string_view>

#include "chorus/pipeline/snapshot.h"

namespace chorus::metric_names {

struct Family {
  std::string_view name;  // as samples carry it: counters end in _total
  std::string_view help;
};

inline constexpr Family kChannelEvents = {
    "chorus_channel_events_total", "Sum of count over processed events, by channel and kind."};
inline constexpr Family kChannelFollowers = {
    "chorus_channel_followers", "Current followers: last snapshot, then follows minus unfollows."};
inline constexpr Family kChannelPosts = {"chorus_channel_posts_total",
                                         "Posts published, by content type."};
inline constexpr Family kChannelEngagements = {
    "chorus_channel_engagements_total", "Reactions, comments, shares and mentions by members."};
inline constexpr Family kCommunityMembers = {"chorus_community_members",
                                             "Members per lifecycle stage."};
inline constexpr Family kCommunityNewMembers = {"chorus_community_new_members_total",
                                                "Members seen for the first time."};
inline constexpr Family kCommunityTransitions = {"chorus_community_stage_transitions_total",
                                                 "Members moving between lifecycle stages."};

// The gauges of a channel's newest fired window, {channel, window}.
struct WindowGauge {
  Family family;
  double (*value)(const WindowFigures&);
};
inline constexpr std::array<WindowGauge, 9> kWindowGauges = {{
    {{"chorus_channel_window_posts", "Posts in the channel's newest fired window."},
     [](const WindowFigures& f) { return static_cast<double>(f.posts); }},
    {{"chorus_channel_window_impressions", "Impressions in the newest fired window."},
     [](const WindowFigures& f) { return static_cast<double>(f.impressions); }},
    {{"chorus_channel_window_engagements",
      "Members' reactions, comments, shares and mentions in the newest fired window."},
     [](const WindowFigures& f) { return static_cast<double>(f.engagements); }},
    {{"chorus_channel_window_shares", "Shares in the newest fired window."},
     [](const WindowFigures& f) { return static_cast<double>(f.shares); }},
    {{"chorus_channel_window_follows", "Follows in the newest fired window."},
     [](const WindowFigures& f) { return static_cast<double>(f.follows); }},
    {{"chorus_channel_window_unfollows", "Unfollows in the newest fired window."},
     [](const WindowFigures& f) { return static_cast<double>(f.unfollows); }},
    {{"chorus_channel_window_followers_start", "Followers at the newest fired window's start."},
     [](const WindowFigures& f) { return static_cast<double>(f.followers_start); }},
    {{"chorus_channel_window_followers_end", "Followers at the newest fired window's end."},
     [](const WindowFigures& f) { return static_cast<double>(f.followers_end); }},
    {{"chorus_channel_window_end_timestamp_seconds",
      "End (event time) of the window the chorus_channel_window_* gauges show."},
     [](const WindowFigures& f) { return static_cast<double>(f.end_ms) / 1000; }},
}};
// Hour and day windows only (indexes into kWindowSpecs): a minute's figures
// are too noisy to alert on and would add half as many series again.
inline constexpr std::array<int, 2> kWindowGaugeSpecs = {1, 2};

}  // namespace chorus::metric_names
