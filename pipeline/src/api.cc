#include "api.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <queue>

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

HttpResponse GetChannel(const Processor& proc, const HttpRequest& req) {
  std::string id = req.path.substr(std::string("/api/v1/channels/").size());
  auto snap = proc.snapshot();
  auto it = std::lower_bound(
      snap->channels.begin(), snap->channels.end(), id,
      [](const ChannelSnapshot& c, const std::string& v) { return c.channel_id < v; });
  if (it == snap->channels.end() || it->channel_id != id) {
    return Error(404, "channel " + id + " not found");
  }
  return Json(200, ChannelJson(*it));
}

HttpResponse ListChannels(const Processor& proc) {
  auto snap = proc.snapshot();
  json list = json::array();
  for (const ChannelSnapshot& c : snap->channels) list.push_back(ChannelJson(c));
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
      {"/api/v1/channels/", false, [&proc](const HttpRequest& r) { return GetChannel(proc, r); }},
      {"/api/v1/channels", true, [&proc](const HttpRequest&) { return ListChannels(proc); }},
  };
}

}  // namespace chorus
