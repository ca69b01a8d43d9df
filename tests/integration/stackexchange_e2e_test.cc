// A real community end to end: the Stack Exchange dump imported into Kafka
// with `chorus import stackexchange`, consumed by `chorus run`, and its
// time to first response and unanswered questions compared with figures
// this test computes straight from the XML (plain text scanning, no chorus
// code). Questions are the threads that start a conversation
// (thread="starter"); answers reply to a question and open threads of their
// own (thread="reply"); unanswered questions are the forum_post threads.
// Members per lifecycle stage at the settled watermark are compared with the
// test's own lifecycle evaluator (stackexchange_lifecycle.h) over each member's
// activity times read from the XML.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <set>

#include "stackexchange_lifecycle.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

using Row = std::map<std::string, std::string>;

// Every <row .../> of an XML table as attribute → value (entities left
// as written). A plain scan: std::regex recurses per character and runs
// out of stack on the dump's long post bodies.
std::vector<Row> Rows(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    size_t at = line.find("<row ");
    if (at == std::string::npos) continue;
    Row r;
    for (at += 5;;) {
      size_t eq = line.find("=\"", at);
      if (eq == std::string::npos) break;
      size_t end = line.find('"', eq + 2);
      if (end == std::string::npos) break;
      size_t name = line.find_last_of(' ', eq);
      r[line.substr(name + 1, eq - name - 1)] = line.substr(eq + 2, end - eq - 2);
      at = end + 1;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

// "2018-03-12T18:13:40.127" (UTC) → milliseconds since the epoch.
int64_t Millis(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
              &tm.tm_min, &tm.tm_sec);
  if (auto dot = s.find('.'); dot != std::string::npos) {
    std::string frac = s.substr(dot + 1, 3);
    while (frac.size() < 3) frac += '0';
    ms = std::stoi(frac);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// A user id of a member: not empty and not the Community bot (-1), whose
// rows the import skips; an empty one is a deleted account.
bool IsMember(const Row& r, const std::string& attr) {
  auto it = r.find(attr);
  return it != r.end() && !it->second.empty() && it->second != "-1";
}

// Each member's activity times as the import gives them: joining
// (Users.xml), questions and answers, comments, and an accepted answer's
// acceptance (a CONTRIBUTION by its author at the latest accept vote's day,
// or at the answer's creation if that is later or there is no vote).
// Up-votes have no member; deleted accounts and the Community bot are no
// members.
std::map<std::string, std::vector<int64_t>> MemberActivity(const std::string& dir,
                                                           const std::vector<Row>& posts) {
  std::map<std::string, std::vector<int64_t>> activity;
  for (const Row& u : Rows(dir + "/Users.xml")) {
    if (IsMember(u, "Id")) activity[u.at("Id")].push_back(Millis(u.at("CreationDate")));
  }
  std::map<std::string, const Row*> answers;
  for (const Row& p : posts) {
    const std::string& type = p.at("PostTypeId");
    if (type != "1" && type != "2") continue;  // tag wikis
    if (type == "2") answers[p.at("Id")] = &p;
    if (IsMember(p, "OwnerUserId")) {
      activity[p.at("OwnerUserId")].push_back(Millis(p.at("CreationDate")));
    }
  }
  for (const Row& c : Rows(dir + "/Comments.xml")) {
    if (IsMember(c, "UserId")) activity[c.at("UserId")].push_back(Millis(c.at("CreationDate")));
  }
  std::map<std::string, int64_t> accept_vote;  // post id -> its latest accept vote
  for (const Row& v : Rows(dir + "/Votes.xml")) {
    if (v.at("VoteTypeId") != "1") continue;
    int64_t at = Millis(v.at("CreationDate"));
    auto [it, fresh] = accept_vote.emplace(v.at("PostId"), at);
    if (!fresh) it->second = std::max(it->second, at);
  }
  for (const Row& q : posts) {
    if (q.at("PostTypeId") != "1" || !q.count("AcceptedAnswerId")) continue;
    auto a = answers.find(q.at("AcceptedAnswerId"));
    if (a == answers.end() || !IsMember(*a->second, "OwnerUserId")) continue;
    const int64_t created = Millis(a->second->at("CreationDate"));
    auto vote = accept_vote.find(a->first);
    const int64_t at = vote == accept_vote.end() ? created : std::max(vote->second, created);
    activity[a->second->at("OwnerUserId")].push_back(at);
  }
  return activity;
}

struct Question {
  int64_t opened;
  std::string owner;
  std::vector<std::pair<int64_t, std::string>> replies;  // (time, replier)
};

TEST(StackExchangeE2E, FirstResponseAndUnansweredMatchTheDump) {
  const std::string dir = CHORUS_STACKEXCHANGE_DIR;
  std::map<std::string, Question> questions;
  // Threads: questions and answers by known members (comments open threads
  // too, but nothing in the dump replies to a comment).
  std::set<std::string> question_ids;
  const std::vector<Row> posts = Rows(dir + "/Posts.xml");
  for (const Row& p : posts) {
    const std::string owner = p.count("OwnerUserId") ? p.at("OwnerUserId") : "";
    const std::string& type = p.at("PostTypeId");
    if ((type == "1" || type == "2") && !owner.empty() && owner != "-1") {
      questions[p.at("Id")] = {Millis(p.at("CreationDate")), owner, {}};
      if (type == "1") question_ids.insert(p.at("Id"));
    }
  }
  auto reply = [&](const std::string& to, const Row& r, const std::string& user_attr) {
    auto q = questions.find(to);
    std::string user = r.count(user_attr) ? r.at(user_attr) : "";
    // Deleted accounts and the community bot are nobody in particular.
    if (q == questions.end() || user.empty() || user == "-1") return;
    q->second.replies.emplace_back(Millis(r.at("CreationDate")), user);
  };
  for (const Row& p : posts) {
    if (p.at("PostTypeId") == "2" && p.count("ParentId")) reply(p.at("ParentId"), p, "OwnerUserId");
  }
  for (const Row& c : Rows(dir + "/Comments.xml")) reply(c.at("PostId"), c, "UserId");
  ASSERT_GT(questions.size(), 500u);

  MockCluster cluster(1);
  cluster.CreateTopic("se", 4);
  cluster.CreateTopic("se-dlq", 1);
  TempDir tmp;
  ChildProcess import(
      CHORUS_BINARY,
      {"import", "stackexchange", dir, "--brokers", cluster.bootstrap_servers(), "--topic", "se"},
      tmp.Sub("import.log"));
  auto st = import.Wait(std::chrono::seconds(120));
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << import.Log();

  auto process = StartChorusRun(CHORUS_BINARY, cluster.bootstrap_servers(), "se", tmp.Sub("state"),
                                tmp.Sub("chorus.log"));
  ChildProcess& chorus = *process;
  const int port = WaitForHttpPort(chorus, std::chrono::seconds(60));
  ASSERT_NE(port, 0) << chorus.Log();
  auto end = cluster.HighWatermarks("se");
  double records = 0;
  for (int64_t offset : end) records += static_cast<double>(offset);
  std::map<std::string, double> m;
  double last_wm = -1;
  // Settled: every record counted and the watermark has stopped moving
  // (every partition idle: it stands at the newest event less 5 minutes).
  ASSERT_TRUE(WaitForMetrics(
      port,
      [&](const std::map<std::string, double>& now) {
        double wm = SumSeries(now, "chorus_pipeline_watermark_timestamp_seconds");
        bool done = SumSeries(now, "chorus_pipeline_events_total") == records && wm == last_wm;
        last_wm = wm;
        return done;
      },
      m, std::chrono::seconds(120), std::chrono::milliseconds(1500)))
      << chorus.Log();
  EXPECT_EQ(SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"processed\""}), records);
  const auto wm = static_cast<int64_t>(std::llround(last_wm * 1000));
  const int64_t horizon = 7 * 86'400'000LL;

  // The figures from the XML, with chorus's rules: a question's first
  // response is the earliest reply by someone else within the 7-day
  // horizon, counted once the watermark has passed it; a question whose
  // horizon the watermark passed with no such reply went unanswered.
  std::vector<double> first, answers_first;  // questions' and answers' threads
  double unresponded = 0, opened = 0;
  for (const auto& [id, q] : questions) {
    const bool question = question_ids.count(id) > 0;
    opened += question;
    int64_t best = INT64_MAX;
    for (const auto& [t, who] : q.replies) {
      if (who != q.owner && t < q.opened + horizon) best = std::min(best, t);
    }
    if (best != INT64_MAX && best <= wm) {
      (question ? first : answers_first)
          .push_back(static_cast<double>(std::max<int64_t>(0, best - q.opened)) / 1000.0);
    } else if (best == INT64_MAX && q.opened + horizon <= wm) {
      unresponded += question;
    }
  }
  std::sort(first.begin(), first.end());
  ASSERT_GT(first.size(), 300u);
  ASSERT_GT(answers_first.size(), 100u);
  auto within = [&](double s) {
    return static_cast<double>(std::upper_bound(first.begin(), first.end(), s) - first.begin());
  };
  // Questions start conversations; answers are replies that open threads
  // of their own: chorus keeps their first responses apart.
  const std::vector<std::string> member = {"channel=\"stackexchange:quantumcomputing\"",
                                           "responder=\"member\"", "thread=\"starter\""};
  auto bucket = [&](const std::string& le) {
    auto labels = member;
    labels.push_back("le=\"" + le + "\"");
    return SumSeries(m, "chorus_channel_first_response_seconds_bucket", labels);
  };
  EXPECT_EQ(SumSeries(m, "chorus_channel_threads_opened_total", {"kind=\"forum_post\""}), opened);
  EXPECT_EQ(SumSeries(m, "chorus_channel_first_response_seconds_count", member),
            static_cast<double>(first.size()));
  EXPECT_EQ(SumSeries(m, "chorus_channel_first_response_seconds_count",
                      {"responder=\"member\"", "thread=\"reply\""}),
            static_cast<double>(answers_first.size()));
  EXPECT_EQ(bucket("3600"), within(3600)) << "answered within an hour";
  EXPECT_EQ(bucket("86400"), within(86400)) << "answered within a day";
  EXPECT_EQ(SumSeries(m, "chorus_channel_threads_unresponded_total", {"kind=\"forum_post\""}),
            unresponded);
  // The median: the bucket chorus puts it in holds the exact median.
  const double median = first[(first.size() - 1) / 2];
  const double half = static_cast<double>(first.size()) / 2;
  double lower = 0;
  bool found = false;
  for (const char* le : {"60", "300", "900", "1800", "3600", "7200", "14400", "28800", "43200",
                         "86400", "172800", "345600", "604800"}) {
    double cumulative = bucket(le);
    if (cumulative >= half) {
      EXPECT_GT(median, lower) << "median " << median << " s";
      EXPECT_LE(median, std::stod(le)) << "median " << median << " s";
      found = true;
      break;
    }
    lower = std::stod(le);
  }
  EXPECT_TRUE(found);
  // No brand or team on a peer forum: every expired question is unanswered
  // by them, and only members answer.
  EXPECT_EQ(SumSeries(m, "chorus_channel_response_seconds_count"), 0);
  std::printf(
      "questions %.0f, first answers %zu (median %.0f s, within 1 h %.0f, within 24 h "
      "%.0f), unanswered by anyone %.0f\n",
      opened, first.size(), median, within(3600), within(86400), unresponded);

  // Members per stage at the watermark, from the XML with the test's own
  // lifecycle evaluator; every member is in exactly one stage. The stage
  // transitions pin each member's history too: they tell a promotion at a
  // day boundary (which chorus leaves to the member's next event) apart.
  const auto activity = MemberActivity(dir, posts);
  ASSERT_GT(activity.size(), 3000u);
  std::array<double, lifecycle::kStages> want{};
  std::array<std::array<double, lifecycle::kStages>, lifecycle::kStages> moves{};
  for (const auto& [id, times] : activity) {
    const lifecycle::Result r = lifecycle::Evaluate(times, wm);
    ++want[static_cast<size_t>(r.stage)];
    for (const lifecycle::Change& c : r.changes) {
      ++moves[static_cast<size_t>(c.from)][static_cast<size_t>(c.to)];
    }
  }
  auto label = [](const char* key, int stage) {
    return std::string(key) + "=\"" + lifecycle::kStageNames[stage] + "\"";
  };
  std::string counts;
  for (int s = 0; s < lifecycle::kStages; ++s) {
    const double got = SumSeries(m, "chorus_community_members", {label("stage", s)});
    EXPECT_EQ(got, want[s]) << lifecycle::kStageNames[s];
    counts += std::string(" ") + lifecycle::kStageNames[s] + " " +
              std::to_string(static_cast<int64_t>(want[s])) + "/" +
              std::to_string(static_cast<int64_t>(got));
    for (int t = 0; t < lifecycle::kStages; ++t) {
      EXPECT_EQ(SumSeries(m, "chorus_community_stage_transitions_total",
                          {label("from", s), label("to", t)}),
                moves[s][t])
          << lifecycle::kStageNames[s] << " -> " << lifecycle::kStageNames[t];
    }
  }
  EXPECT_EQ(SumSeries(m, "chorus_community_members"), static_cast<double>(activity.size()));
  std::printf("members %zu at %s, by stage (XML/chorus):%s\n", activity.size(),
              lifecycle::Iso(wm).c_str(), counts.c_str());

  chorus.Kill(SIGTERM);
  ASSERT_TRUE(chorus.Wait(std::chrono::seconds(30)));
}

}  // namespace
}  // namespace chorus::testing
