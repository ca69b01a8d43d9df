// The community manager's view end to end through Kafka and the real
// binary: a scripted community whose stages, threads and welcome times are
// known by construction (each member follows a pattern chosen to land in
// one stage, each thread is answered after a chosen delay), checked against
// /metrics and the member API.
#include <gtest/gtest.h>
#include <signal.h>

#include "chorus/v1/channel_window.pb.h"
#include "chorus/v1/engagement.pb.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
const std::string kChannel = "forum:acme";

int64_t Noon(int day) { return kStartMs + day * kDayMs + kDayMs / 2; }

struct Record {
  std::string key, value;
  int64_t ts;
};

// A thread the script opens and how it is answered (delays in seconds; -1: never).
struct ScriptedThread {
  int64_t opened_ms;
  int64_t peer_after = -1;   // a member's answer
  int64_t reply_after = -1;  // the closing reply
  v1::ActorRole replier = v1::ACTOR_ROLE_BRAND;
};

class Community {
 public:
  void Member(const std::string& id, int64_t t, v1::EventKind kind, float sentiment = 2,
              uint64_t reach = 0, const std::string& reply_to = "") {
    v1::EngagementEvent e;
    e.set_event_id("ev-" + std::to_string(records_.size()));
    e.mutable_occurred_at()->set_seconds(t / 1000);
    e.set_channel_id(kChannel);
    e.set_platform(v1::PLATFORM_FORUM);
    e.set_kind(kind);
    e.set_member_id(id);
    e.set_actor_role(v1::ACTOR_ROLE_MEMBER);
    if (sentiment <= 1) e.set_sentiment(sentiment);
    if (reach > 0) e.set_member_reach(reach);
    if (!reply_to.empty()) e.set_reply_to_event_id(reply_to);
    last_id_ = e.event_id();
    records_.push_back({id, e.SerializeAsString(), t});
  }
  // Opens a thread by `member` and scripts its answers.
  void Thread(const std::string& member, const std::string& peer, ScriptedThread t) {
    Member(member, t.opened_ms, v1::EVENT_KIND_FORUM_POST);
    std::string id = last_id_;
    threads_.push_back(t);
    if (t.peer_after >= 0) {
      Member(peer, t.opened_ms + t.peer_after * 1000, v1::EVENT_KIND_COMMENT, 2, 0, id);
      peer_answers_++;
    }
    if (t.reply_after >= 0) {
      v1::EngagementEvent e;
      e.set_event_id("reply-" + std::to_string(records_.size()));
      int64_t at = t.opened_ms + t.reply_after * 1000;
      e.mutable_occurred_at()->set_seconds(at / 1000);
      e.set_channel_id(kChannel);
      e.set_platform(v1::PLATFORM_FORUM);
      e.set_kind(v1::EVENT_KIND_COMMENT);
      e.set_actor_role(t.replier);
      e.set_reply_to_event_id(id);
      records_.push_back({kChannel, e.SerializeAsString(), at});
    }
  }
  const std::vector<Record>& records() const { return records_; }
  const std::vector<ScriptedThread>& threads() const { return threads_; }
  int peer_answers() const { return peer_answers_; }

 private:
  std::vector<Record> records_;
  std::vector<ScriptedThread> threads_;
  std::string last_id_;
  int peer_answers_ = 0;
};

// Every day in `days`, a reaction at noon.
void ActiveOn(Community& c, const std::string& id, const std::vector<int>& days, float s = 2) {
  for (int d : days) c.Member(id, Noon(d), v1::EVENT_KIND_REACTION, s);
}

// Three days a week for the weeks ending on day `last`: a regular's rhythm.
std::vector<int> ThreeAWeek(int first, int last) {
  std::vector<int> days;
  for (int d = last; d >= first; d -= 7) {
    for (int k : {0, 2, 4}) {
      if (d - k >= first) days.push_back(d - k);
    }
  }
  return days;
}

TEST(CommunityE2E, StagesThreadsAndWelcomeMatchTheScript) {
  Community c;
  // At the end (day 59) each group is in the stage its pattern leads to.
  for (int i = 0; i < 10; ++i) {  // one visit on day 1: quiet > 28 days
    c.Member("lapsed-" + std::to_string(i), Noon(1), v1::EVENT_KIND_REACTION, 2,
             i == 0 ? 20'000 : 0);
  }
  std::vector<int> forty_days;
  for (int d = 20; d <= 59; ++d) forty_days.push_back(d);
  for (int i = 0; i < 5; ++i) {  // 40 active days, positive: champions
    // First seen on day 10, so their questions from day 20 on are not a newcomer's.
    c.Member("champ-" + std::to_string(i), Noon(10), v1::EVENT_KIND_REACTION, 0.5f,
             i == 0 ? 500'000 : 100);
    ActiveOn(c, "champ-" + std::to_string(i), forty_days, 0.5f);
  }
  for (int i = 0; i < 4; ++i) {  // 3 days a week for 4 weeks, to day 58
    ActiveOn(c, "regular-" + std::to_string(i), ThreeAWeek(33, 58));
  }
  for (int i = 0; i < 3; ++i) {  // a regular who stopped on day 45: at risk
    ActiveOn(c, "atrisk-" + std::to_string(i), ThreeAWeek(17, 45));
  }
  for (int i = 0; i < 4; ++i) {  // first seen day 30, last day 50: active
    ActiveOn(c, "active-" + std::to_string(i), {30, 50});
  }
  // Champions' questions on days 20-24, answered after scripted delays.
  const int64_t delays[] = {45, 600, 7200, 108'000, -1};
  int n = 0;
  for (int d = 20; d <= 24; ++d) {
    for (int i = 0; i < 5; ++i, ++n) {
      ScriptedThread t{.opened_ms = Noon(d) + 3600'000 * (i + 1)};
      t.reply_after = delays[n % 5];
      t.replier = n % 2 == 0 ? v1::ACTOR_ROLE_BRAND : v1::ACTOR_ROLE_COMMUNITY_TEAM;
      if (n % 3 == 0) t.peer_after = 300;  // a peer answers in 5 minutes
      c.Thread("champ-" + std::to_string(i), "champ-" + std::to_string((i + 1) % 5), t);
    }
  }
  // Newcomers on day 58: the team welcomes three within 30 minutes, the
  // brand answers two, one is still waiting at the end.
  for (int i = 0; i < 6; ++i) {
    ScriptedThread t{.opened_ms = Noon(58) + 3600'000 * i};
    t.reply_after = i < 3 ? 1800 : i < 5 ? 600 : -1;
    t.replier = i < 3 ? v1::ACTOR_ROLE_COMMUNITY_TEAM : v1::ACTOR_ROLE_BRAND;
    c.Thread("new-" + std::to_string(i), "", t);
  }

  MockCluster cluster(1);
  cluster.CreateTopic("community", 4);
  cluster.CreateTopic("community-dlq", 1);
  cluster.CreateTopic("community-windows", 2);
  // In event-time order, as a live community would produce them.
  std::vector<Record> records = c.records();
  std::stable_sort(records.begin(), records.end(),
                   [](const Record& a, const Record& b) { return a.ts < b.ts; });
  for (const Record& r : records) cluster.Produce("community", -1, r.key, r.value, r.ts);
  cluster.Flush();
  TempDir dir;
  auto process =
      StartChorusRun(CHORUS_BINARY, cluster.bootstrap_servers(), "community", dir.Sub("state"),
                     dir.Sub("chorus.log"), {"--output-topic", "community-windows"});
  ChildProcess& chorus = *process;
  const int port = WaitForHttpPort(chorus, std::chrono::seconds(60));
  ASSERT_NE(port, 0) << chorus.Log();

  // Done once every record is counted and the watermark has reached the
  // end of day 59's activity.
  std::map<std::string, double> m;
  const double total = static_cast<double>(c.records().size());
  // Idle partitions let the watermark reach the newest event less the
  // allowed out-of-orderness (5 minutes by default).
  bool settled = WaitUntilProcessed(port, total, Noon(59) - 300'000, m, std::chrono::seconds(90));
  ASSERT_TRUE(settled) << "processed "
                       << SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"processed\""})
                       << " of " << total << ", at_risk "
                       << SumSeries(m, "chorus_community_members", {"stage=\"at_risk\""})
                       << ", outcomes " << SumSeries(m, "chorus_pipeline_events_total") << "\n"
                       << chorus.Log();

  const std::map<std::string, double> stages = {{"new", 6},      {"active", 4},  {"regular", 4},
                                                {"champion", 5}, {"at_risk", 3}, {"lapsed", 10},
                                                {"churned", 0}};
  double members = 0;
  for (const auto& [stage, want] : stages) {
    EXPECT_EQ(SumSeries(m, "chorus_community_members", {"stage=\"" + stage + "\""}), want) << stage;
    members += want;
  }
  EXPECT_EQ(SumSeries(m, "chorus_community_members"), members);

  // Response times, bucket by bucket, from the script's delays.
  std::vector<double> bounds = HistogramBounds(m, "chorus_channel_response_seconds");
  ASSERT_FALSE(bounds.empty());
  EXPECT_LE(bounds.front(), 60) << "buckets must resolve minutes";
  EXPECT_GE(bounds.back(), 86400) << "and reach days";
  for (const char* responder : {"brand", "community_team"}) {
    auto role =
        std::string(responder) == "brand" ? v1::ACTOR_ROLE_BRAND : v1::ACTOR_ROLE_COMMUNITY_TEAM;
    for (double b : bounds) {
      double want = 0, first_want = 0;
      for (const ScriptedThread& t : c.threads()) {
        bool by_them = t.reply_after >= 0 && t.replier == role;
        if (by_them && static_cast<double>(t.reply_after) <= b) want++;
        // Their reply was also the first response unless a peer's came earlier.
        bool first = by_them && (t.peer_after < 0 || t.peer_after > t.reply_after);
        if (first && static_cast<double>(t.reply_after) <= b) first_want++;
      }
      std::vector<std::string> labels = {
          "channel=\"forum:acme\"", "responder=\"" + std::string(responder) + "\"", LeLabel(b)};
      EXPECT_EQ(SumSeries(m, "chorus_channel_response_seconds_bucket", labels), want)
          << responder << " le " << b;
      EXPECT_EQ(SumSeries(m, "chorus_channel_first_response_seconds_bucket", labels), first_want)
          << responder << " le " << b;
    }
  }
  double peer_first = 0;
  for (const ScriptedThread& t : c.threads()) {
    if (t.peer_after >= 0 && (t.reply_after < 0 || t.peer_after < t.reply_after)) peer_first++;
  }
  EXPECT_EQ(SumSeries(m, "chorus_channel_first_response_seconds_count", {"responder=\"member\""}),
            peer_first);

  // Threads: forum posts by the script, comments by the peers' answers;
  // everything opened before day 52 without a closing reply expired.
  double posts = static_cast<double>(c.threads().size());
  double unanswered_posts = 0;
  for (const ScriptedThread& t : c.threads()) {
    if (t.reply_after < 0 && t.opened_ms < Noon(52)) unanswered_posts++;
  }
  EXPECT_EQ(SumSeries(m, "chorus_channel_threads_opened_total", {"kind=\"forum_post\""}), posts);
  EXPECT_EQ(SumSeries(m, "chorus_channel_threads_opened_total", {"kind=\"comment\""}),
            c.peer_answers());
  EXPECT_EQ(SumSeries(m, "chorus_channel_threads_unanswered_total", {"kind=\"forum_post\""}),
            unanswered_posts);
  EXPECT_EQ(SumSeries(m, "chorus_channel_threads_unanswered_total", {"kind=\"comment\""}),
            c.peer_answers());
  EXPECT_EQ(SumSeries(m, "chorus_channel_open_threads"), 1);  // new-5's

  // The day windows on the results topic: each day's answers, by the day of
  // the answer, with their times from the opening summed.
  struct Day {
    uint64_t responses = 0, first_responses = 0;
    double response_seconds = 0, first_response_seconds = 0;
  };
  std::map<int64_t, Day> want_days;  // by day start
  auto day_of = [](int64_t ms) { return ms - (ms - kStartMs) % kDayMs; };
  for (const ScriptedThread& t : c.threads()) {
    if (t.reply_after >= 0) {
      Day& d = want_days[day_of(t.opened_ms + t.reply_after * 1000)];
      d.responses++;
      d.response_seconds += static_cast<double>(t.reply_after);
    }
    int64_t first = t.peer_after >= 0 && (t.reply_after < 0 || t.peer_after < t.reply_after)
                        ? t.peer_after
                        : t.reply_after;
    if (first >= 0) {
      Day& d = want_days[day_of(t.opened_ms + first * 1000)];
      d.first_responses++;
      d.first_response_seconds += static_cast<double>(first);
    }
  }
  ASSERT_GE(want_days.size(), 6u) << "answers on days 20 to 26 and 58";
  std::map<int64_t, Day> got_days;
  ASSERT_TRUE(WaitFor(
      [&] {
        got_days.clear();
        for (const KafkaRecord& r : cluster.ReadAll("community-windows")) {
          v1::ChannelWindow w;
          if (!r.value || !w.ParseFromString(*r.value) || w.window() != "1d") continue;
          // A later revision replaces an earlier one.
          Day& d = got_days[w.start().seconds() * 1000];
          d = Day{w.responses(), w.first_responses(), w.response_seconds_sum(),
                  w.first_response_seconds_sum()};
        }
        return got_days.count(Noon(58) - kDayMs / 2) == 1;
      },
      std::chrono::seconds(30)))
      << "no result for day 58";
  for (const auto& [day, want] : want_days) {
    SCOPED_TRACE(day);
    const Day& got = got_days[day];
    EXPECT_EQ(got.responses, want.responses);
    EXPECT_EQ(got.first_responses, want.first_responses);
    EXPECT_DOUBLE_EQ(got.response_seconds, want.response_seconds);
    EXPECT_DOUBLE_EQ(got.first_response_seconds, want.first_response_seconds);
  }
  for (const auto& [day, got] : got_days) {
    if (!want_days.count(day)) {
      EXPECT_EQ(got.responses + got.first_responses, 0u) << day;
    }
  }

  // Welcome: three newcomers, each answered by the team 30 minutes after
  // their first activity.
  EXPECT_EQ(SumSeries(m, "chorus_community_welcome_seconds_count"), 3);
  EXPECT_EQ(SumSeries(m, "chorus_community_welcome_seconds_sum"), 3 * 1800);
  EXPECT_EQ(SumSeries(m, "chorus_community_influencers", {"stage=\"champion\""}), 1);
  EXPECT_EQ(SumSeries(m, "chorus_community_influencers", {"stage=\"lapsed\""}), 1);

  // The API agrees: who the champions are, and one member in full.
  auto champions = HttpGet(port, "/api/v1/members?stage=champion&sort=reach&limit=10");
  ASSERT_TRUE(champions);
  EXPECT_EQ(champions->status, 200);
  EXPECT_EQ(champions->body.find("\"member_id\":\"champ-0\""),
            champions->body.find("\"member_id\":\"champ-"))
      << "champ-0 has the largest reach: " << champions->body;
  size_t listed = 0;
  for (size_t at = 0;
       (at = champions->body.find("\"stage\":\"champion\"", at)) != std::string::npos; ++at) {
    listed++;
  }
  EXPECT_EQ(listed, 5u) << champions->body;
  auto newcomer = HttpGet(port, "/api/v1/members/new-5");
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->status, 200);
  EXPECT_NE(newcomer->body.find("\"open_threads\":1"), std::string::npos) << newcomer->body;
  EXPECT_NE(newcomer->body.find("\"stage\":\"new\""), std::string::npos) << newcomer->body;
  auto welcomed = HttpGet(port, "/api/v1/members/new-0");
  ASSERT_TRUE(welcomed);
  EXPECT_NE(welcomed->body.find("\"welcomed\":true"), std::string::npos) << welcomed->body;
  auto bad_sort = HttpGet(port, "/api/v1/members?sort=shoe");
  ASSERT_TRUE(bad_sort);
  EXPECT_EQ(bad_sort->status, 400);
  EXPECT_NE(bad_sort->body.find("\"error\""), std::string::npos) << bad_sort->body;

  chorus.Kill(SIGTERM);
  ASSERT_TRUE(chorus.Wait(std::chrono::seconds(30)));
}

}  // namespace
}  // namespace chorus::testing
