#include "api.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <queue>

#include "window_results.h"

namespace chorus {
namespace {

using nlohmann::json;

HttpResponse Json(int status, const json& body) {
  // Ids come from producers and URLs: invalid UTF-8 is replaced, not thrown.
  return {status, "application/json",
          body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

HttpResponse Error(int status, const std::string& message) {
  return Json(status, {{"error", message}});
}

std::string Rfc3339(ops::EventTime t) {
  if (t == ops::EventTime::Min() || t == ops::EventTime::Max()) return "";
  std::time_t secs = static_cast<std::time_t>(ops::FloorDiv(t.millis(), 1000));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json MemberJson(std::string_view id, const ops::MemberState& m, ops::EventTime at,
                const ops::MemberOptions& o) {
  json j = {{"member_id", id},
            {"stage", ops::Name(m.stage)},
            {"stage_since", Rfc3339(m.stage_since)},
            {"first_seen", Rfc3339(m.first_seen)},
            {"last_seen", Rfc3339(m.last_seen)},
            {"events", m.events},
            {"as_of", Rfc3339(at)}};
  j["love"] = m.LoveAt(at, o.love_half_life);
  auto sentiment = m.SentimentAt(at, o.sentiment_half_life);
  j["sentiment"] = sentiment ? json(*sentiment) : json(nullptr);
  int64_t day = ops::DayIndex(at);
  j["active_days_30"] = m.ActiveDaysIn(day, 30);
  j["active_days_90"] = m.ActiveDaysIn(day, 90);
  j["open_threads"] = m.open_threads;
  j["welcomed"] = m.welcomed;
  j["reach"] = m.reach;
  j["brand_interactions"] = m.BrandInteractionsAt(at, o.love_half_life);
  j["influencer"] = o.influencer_min_reach > 0 && m.reach >= o.influencer_min_reach;
  return j;
}

ops::EventTime AsOf(const Snapshot& s) {
  return s.watermark == ops::EventTime::Min() ? ops::EventTime::FromMillis(0) : s.watermark;
}

HttpResponse GetMember(const Processor& proc, const StateStore& store, const HttpRequest& req) {
  std::string id = req.path.substr(std::string("/api/v1/members/").size());
  if (id.empty()) return Error(400, "member id missing");
  auto snap = proc.snapshot();
  for (const PartitionSnapshot& p : snap->partitions) {
    auto value = store.Get(Store::kMembers, ops::MemberEngagement::MemberKey(p.state_id, id));
    if (!value.ok()) return Error(500, value.status().message());
    if (!value.value()) continue;
    auto state = ops::MemberEngagement::DecodeMember(*value.value());
    if (!state) return Error(500, "unreadable state for member " + id);
    json j = MemberJson(id, *state, AsOf(*snap), proc.member_options());
    j["partition"] = {{"topic", p.tp.topic}, {"partition", p.tp.partition}};
    return Json(200, j);
  }
  return Error(404, "member " + id + " not found");
}

struct Ranked {
  double score;
  std::string id;
  ops::MemberState state;
  bool operator<(const Ranked& o) const {
    return score > o.score || (score == o.score && id < o.id);
  }
};

HttpResponse ListMembers(const Processor& proc, const StateStore& store, const HttpRequest& req) {
  std::string stage_name = req.Param("stage");
  std::string sort = req.Param("sort").empty() ? "love" : req.Param("sort");
  std::string limit_text = req.Param("limit").empty() ? "20" : req.Param("limit");
  int limit = 0;
  auto [end, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
  if (ec != std::errc() || end != limit_text.data() + limit_text.size() || limit < 1 ||
      limit > 1000) {
    return Error(400, "limit must be an integer from 1 to 1000");
  }
  if (sort != "love" && sort != "reach" && sort != "last_seen") {
    return Error(400, "sort must be love, reach or last_seen");
  }
  std::optional<ops::Stage> stage;
  for (int i = 0; i < ops::kStageCount && !stage_name.empty(); ++i) {
    if (ops::Name(static_cast<ops::Stage>(i)) == stage_name) stage = static_cast<ops::Stage>(i);
  }
  if (!stage_name.empty() && !stage) return Error(400, "unknown stage " + stage_name);

  auto snap = proc.snapshot();
  ops::EventTime at = AsOf(*snap);
  const ops::MemberOptions& o = proc.member_options();
  // A bounded heap of the best `limit`: memory stays O(limit) however many members exist.
  std::priority_queue<Ranked> best;
  Status s = store.Scan(Store::kMembers, "", [&](std::string_view key, std::string_view value) {
    std::string_view id;
    if (!ops::MemberEngagement::ParseMemberKey(key, id)) return true;
    auto m = ops::MemberEngagement::DecodeMember(value);
    if (!m || (stage && m->stage != *stage)) return true;
    double score = sort == "love"    ? m->LoveAt(at, o.love_half_life)
                   : sort == "reach" ? static_cast<double>(m->reach)
                                     : static_cast<double>(m->last_seen.millis());
    best.push({score, std::string(id), *m});
    if (best.size() > static_cast<size_t>(limit)) best.pop();
    return true;
  });
  if (!s.ok()) return Error(500, s.message());
  std::vector<Ranked> rows;
  while (!best.empty()) {
    rows.push_back(best.top());
    best.pop();
  }
  std::reverse(rows.begin(), rows.end());
  json list = json::array();
  for (const Ranked& r : rows) list.push_back(MemberJson(r.id, r.state, at, o));
  return Json(200, {{"members", list}, {"sort", sort}, {"as_of", Rfc3339(at)}});
}

json ChannelJson(const ChannelSnapshot& c) {
  json kinds = json::object(), posts = json::object(), engagements = json::object();
  for (int k = 1; k < ops::kEventKindCount; ++k) {
    if (uint64_t v = c.totals.events_by_kind[k])
      kinds[ops::Name(static_cast<ops::EventKind>(k))] = v;
  }
  for (int t = 0; t < ops::kContentTypeCount; ++t) {
    auto ct = ops::Name(static_cast<ops::ContentType>(t));
    if (uint64_t v = c.totals.posts_by_content_type[t]) posts[ct] = v;
    if (uint64_t v = c.totals.engagements_by_content_type[t]) engagements[ct] = v;
  }
  return {{"channel_id", c.channel_id},     {"platform", ops::Name(c.platform)},
          {"followers", c.followers},       {"events_by_kind", kinds},
          {"posts_by_content_type", posts}, {"engagements_by_content_type", engagements}};
}

json FiguresJson(const WindowFigures& f) {
  return {{"start_ms", f.start_ms},
          {"end_ms", f.end_ms},
          {"revision", f.revision},
          {"posts", f.posts},
          {"impressions", f.impressions},
          {"engagements", f.engagements},
          {"shares", f.shares},
          {"follows", f.follows},
          {"unfollows", f.unfollows},
          {"followers_start", f.followers_start},
          {"followers_end", f.followers_end}};
}

// The newest fired hour and day windows, from the committed view.
json LatestJson(const Snapshot& snap, const std::string& id) {
  json out = json::object();
  auto it = snap.latest_windows.find(id);
  if (it == snap.latest_windows.end()) return out;
  for (int spec = 0; spec < ops::kWindowSpecCount; ++spec) {
    if (it->second[spec])
      out[std::string(ops::kWindowSpecs[spec].name)] = FiguresJson(*it->second[spec]);
  }
  return out;
}

// The channel's recent window results as stored (committed), newest first,
// each as its chorus.v1.ChannelWindow in protobuf's JSON mapping.
Result<json> RecentWindowsJson(const StateStore& store, const std::string& id) {
  json out = json::object();
  for (int spec = 0; spec < ops::kWindowSpecCount; ++spec) {
    if (RecentWindows::kKept[spec] > 0)
      out[std::string(ops::kWindowSpecs[spec].name)] = json::array();
  }
  std::string failed;
  Status s = store.Scan(Store::kWindows, RecentWindows::Prefix(id),
                        [&](std::string_view key, std::string_view value) {
                          int spec = RecentWindows::SpecOfKey(key);
                          v1::ChannelWindow m;
                          std::string text;
                          if (spec < 0 ||
                              !m.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
                              !google::protobuf::util::MessageToJsonString(m, &text).ok()) {
                            failed = "unreadable window result";
                            return false;
                          }
                          auto& list = out[std::string(ops::kWindowSpecs[spec].name)];
                          list.insert(list.begin(), json::parse(text));
                          return true;
                        });
  if (!s.ok()) return s;
  if (!failed.empty()) return Status::Error(failed);
  return out;
}

HttpResponse GetChannel(const Processor& proc, const StateStore& store, const HttpRequest& req) {
  std::string id = req.path.substr(std::string("/api/v1/channels/").size());
  auto snap = proc.snapshot();
  auto it = std::lower_bound(
      snap->channels.begin(), snap->channels.end(), id,
      [](const ChannelSnapshot& c, const std::string& v) { return c.channel_id < v; });
  if (it == snap->channels.end() || it->channel_id != id) {
    return Error(404, "channel " + id + " not found");
  }
  json out = ChannelJson(*it);
  out["latest_windows"] = LatestJson(*snap, id);
  auto windows = RecentWindowsJson(store, id);
  if (!windows.ok()) return Error(500, windows.status().message());
  out["windows"] = std::move(windows.value());
  return Json(200, out);
}

HttpResponse ListChannels(const Processor& proc) {
  auto snap = proc.snapshot();
  json list = json::array();
  for (const ChannelSnapshot& c : snap->channels) {
    json one = ChannelJson(c);
    one["latest_windows"] = LatestJson(*snap, c.channel_id);
    list.push_back(std::move(one));
  }
  return Json(200, {{"channels", list}});
}

}  // namespace

std::vector<HttpRoute> ApiRoutes(const Processor& proc, const StateStore& store,
                                 const MetricsExporter& metrics) {
  return {
      {"/metrics", true,
       [&metrics](const HttpRequest&) {
         return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render()};
       }},
      {"/healthz", true,
       [](const HttpRequest&) {
         return HttpResponse{200, "text/plain", "ok\n"};
       }},
      {"/readyz", true,
       [&proc](const HttpRequest&) {
         auto s = proc.snapshot();
         if (s->ready) return HttpResponse{200, "text/plain", "ready\n"};
         return HttpResponse{503, "text/plain", "not ready: " + s->not_ready_reason + "\n"};
       }},
      {"/api/v1/members/", false,
       [&proc, &store](const HttpRequest& r) { return GetMember(proc, store, r); }},
      {"/api/v1/members", true,
       [&proc, &store](const HttpRequest& r) { return ListMembers(proc, store, r); }},
      {"/api/v1/channels/", false,
       [&proc, &store](const HttpRequest& r) { return GetChannel(proc, store, r); }},
      {"/api/v1/channels", true, [&proc](const HttpRequest&) { return ListChannels(proc); }},
  };
}

}  // namespace chorus
