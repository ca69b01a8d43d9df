#include "chorus/pipeline/stackexchange_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chorus/pipeline/decoder.h"
#include "chorus/pipeline/validator.h"
#include "support/stackexchange_dump.h"
#include "support/temp_dir.h"

namespace chorus::stackexchange {
namespace {

using chorus::testing::DumpTables;
using chorus::testing::TempDir;
using chorus::testing::WriteDump;
using chorus::testing::WriteTable;

int64_t Ms(const v1::EngagementEvent& e) {
  return e.occurred_at().seconds() * 1000 + e.occurred_at().nanos() / 1'000'000;
}

// "kind id ms m=member c=content r=reply k=v..." (attributes sorted by key).
std::string Line(const v1::EngagementEvent& e) {
  std::string s = std::string(ops::Name(static_cast<ops::EventKind>(e.kind()))) + " " +
                  e.event_id() + " " + std::to_string(Ms(e)) + " m=" + e.member_id() +
                  " c=" + e.content_id() + " r=" + e.reply_to_event_id();
  std::map<std::string, std::string> attrs(e.attributes().begin(), e.attributes().end());
  for (const auto& [k, v] : attrs) s += " " + k + "=" + v;
  return s;
}

std::vector<std::string> Lines(const Imported& imported) {
  std::vector<std::string> lines;
  for (const v1::EngagementEvent& e : imported.events) lines.push_back(Line(e));
  return lines;
}

// Writes `tables` as the dump "stackexchange-test" and imports it.
Imported ImportTables(const TempDir& tmp, const DumpTables& tables) {
  const std::string dir = tmp.Sub("stackexchange-test");
  WriteDump(dir, tables);
  EXPECT_TRUE(CheckDumpDir(dir).ok());
  auto dump = ReadDump(dir);
  EXPECT_TRUE(dump.ok()) << dump.status().message();
  if (!dump.ok()) return {};
  Imported imported = Convert(dump.value(), {"test"});
  for (const v1::EngagementEvent& e : imported.events) {
    EXPECT_EQ(e.channel_id(), "stackexchange:test") << e.event_id();
    EXPECT_EQ(e.platform(), v1::PLATFORM_FORUM) << e.event_id();
    EXPECT_EQ(e.actor_role(), v1::ACTOR_ROLE_MEMBER) << e.event_id();
    EXPECT_EQ(e.content_type(), e.kind() == v1::EVENT_KIND_MEMBER_JOINED
                                    ? v1::CONTENT_TYPE_UNSPECIFIED
                                    : v1::CONTENT_TYPE_TEXT)
        << e.event_id();
  }
  return imported;
}

uint64_t Skipped(const Imported& i, Skip reason) {
  return i.stats.skipped[static_cast<int>(reason)];
}

TEST(StackExchangeImport, MapsAThreadWithItsAnswersCommentsVotesAndAcceptance) {
  TempDir tmp;
  DumpTables t;
  t.users = {
      R"(Id="-1" CreationDate="2018-03-09T18:48:09.477" DisplayName="Community")",
      R"(Id="7" CreationDate="2018-03-10T09:00:00.001" DisplayName="Ada")",
      R"(Id="8" CreationDate="2018-03-11T10:00:00.250")",
  };
  t.posts = {
      R"(Id="1" PostTypeId="1" AcceptedAnswerId="3" CreationDate="2018-03-12T17:00:45.567" )"
      R"(Score="5" Body="&lt;p&gt;Why?&lt;/p&gt;" OwnerUserId="7" )"
      R"(Tags="&lt;qiskit&gt;&lt;grover&gt;")",
      R"(Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.100" Score="1" )"
      R"(OwnerUserId="8")",
      R"(Id="3" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T19:30:00.000" Score="3" )"
      R"(OwnerUserId="8")",
  };
  t.comments = {
      R"(Id="10" PostId="2" Score="0" Text="Thanks" CreationDate="2018-03-12T20:15:30.999" )"
      R"(UserId="7")",
  };
  t.votes = {
      // On the question's own day: 00:00 would precede it.
      R"(Id="100" PostId="1" VoteTypeId="2" CreationDate="2018-03-12T00:00:00.000")",
      R"(Id="101" PostId="3" VoteTypeId="2" CreationDate="2018-03-13T00:00:00.000")",
      R"(Id="102" PostId="3" VoteTypeId="1" CreationDate="2018-03-13T00:00:00.000")",
      R"(Id="103" PostId="2" VoteTypeId="3" CreationDate="2018-03-13T00:00:00.000")",
  };
  Imported got = ImportTables(tmp, t);
  const std::vector<std::string> want = {
      "member_joined se-user-7 1520672400001 m=se-7 c= r= se_type=user",
      "member_joined se-user-8 1520762400250 m=se-8 c= r= se_type=user",
      "forum_post se-post-1 1520874045567 m=se-7 c=se-post-1 r= score=5 se_type=question "
      "tags=qiskit,grover",
      "reaction se-vote-100 1520874045567 m= c=se-post-1 r=se-post-1 se_type=upvote",
      "comment se-post-2 1520877600100 m=se-8 c=se-post-1 r=se-post-1 score=1 se_type=answer",
      "comment se-post-3 1520883000000 m=se-8 c=se-post-1 r=se-post-1 score=3 se_type=answer",
      "comment se-comment-10 1520885730999 m=se-7 c=se-post-1 r=se-post-2 score=0 "
      "se_type=comment",
      "contribution se-accept-3 1520899200000 m=se-8 c=se-post-1 r=se-post-3 "
      "se_type=accepted_answer",
      "reaction se-vote-101 1520899200000 m= c=se-post-1 r=se-post-3 se_type=upvote",
  };
  EXPECT_EQ(Lines(got), want);
  EXPECT_EQ(got.stats.Written(), 9u);
  EXPECT_EQ(got.stats.written[v1::EVENT_KIND_COMMENT], 3u);
  EXPECT_EQ(got.stats.written[v1::EVENT_KIND_REACTION], 2u);
  EXPECT_EQ(Skipped(got, Skip::kCommunityBot), 1u);
  EXPECT_EQ(Skipped(got, Skip::kVoteType), 1u);
  EXPECT_EQ(got.stats.Skipped(), 2u);
  EXPECT_EQ(got.stats.accept_votes_used, 1u);
  EXPECT_EQ(got.stats.votes_at_post_time, 1u);
  EXPECT_EQ(got.stats.without_member, 0u);
}

TEST(StackExchangeImport, AcceptanceWithoutAVoteIsAtTheAnswerAndNeverBeforeIt) {
  TempDir tmp;
  DumpTables t;
  t.posts = {
      R"(Id="1" PostTypeId="1" AcceptedAnswerId="2" CreationDate="2018-03-12T17:00:45.567" )"
      R"(OwnerUserId="7")",
      R"(Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.100" )"
      R"(OwnerUserId="8")",
      R"(Id="3" PostTypeId="1" AcceptedAnswerId="4" CreationDate="2018-03-12T17:00:45.567" )"
      R"(OwnerUserId="7")",
      R"(Id="4" PostTypeId="2" ParentId="3" CreationDate="2018-03-12T19:30:00.000" )"
      R"(OwnerUserId="9")",
  };
  t.votes = {
      // Accepted the day the answer was written: at the answer, not at 00:00.
      R"(Id="1" PostId="4" VoteTypeId="1" CreationDate="2018-03-12T00:00:00.000")",
  };
  Imported got = ImportTables(tmp, t);
  std::map<std::string, std::string> accepts;
  for (const v1::EngagementEvent& e : got.events) {
    if (e.kind() == v1::EVENT_KIND_CONTRIBUTION) accepts[e.event_id()] = Line(e);
  }
  EXPECT_EQ(accepts["se-accept-2"],
            "contribution se-accept-2 1520877600100 m=se-8 c=se-post-1 r=se-post-2 "
            "se_type=accepted_answer");
  EXPECT_EQ(accepts["se-accept-4"],
            "contribution se-accept-4 1520883000000 m=se-9 c=se-post-3 r=se-post-4 "
            "se_type=accepted_answer");
  EXPECT_EQ(accepts.size(), 2u);
  EXPECT_EQ(got.stats.accept_votes_used, 1u);
  EXPECT_EQ(got.stats.votes_at_post_time, 1u);
}

TEST(StackExchangeImport, SkipsAndCountsWhatItCannotMap) {
  TempDir tmp;
  DumpTables t;
  t.users = {
      R"(Id="x" CreationDate="2018-03-10T09:00:00.000")",  // malformed: id
      R"(Id="9")",                                         // malformed: no CreationDate
  };
  t.posts = {
      R"(Id="1" PostTypeId="1" AcceptedAnswerId="99" CreationDate="2018-03-12T17:00:00.000" )"
      R"(OwnerUserId="7")",  // accepted answer missing
      R"(Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7")",  // dup
      R"(Id="2" PostTypeId="5" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="-1")",
      R"(Id="3" PostTypeId="2" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7")",
      R"(Id="4" PostTypeId="1" CreationDate="yesterday" OwnerUserId="7")",
      R"(Id="5" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000" )"
      R"(OwnerUserId="-1")",  // community bot
      R"(Id="6" PostTypeId="1" AcceptedAnswerId="5" CreationDate="2018-03-12T17:00:00.000" )"
      R"(OwnerUserId="7")",  // accepts the community bot's answer
      R"(Id="7" PostTypeId="1" CreationDate="2018-03-13T08:00:00.000" )"
      R"(OwnerDisplayName="user42")",  // deleted account
  };
  t.comments = {
      R"(Id="20" PostId="1" CreationDate="2018-03-13T09:00:00.000" UserId="-1")",
      R"(Id="21" PostId="1" CreationDate="2018-03-13T09:00:00.000")",  // deleted account
      R"(Id="22" PostId="404" CreationDate="2018-03-13T09:00:00.000" UserId="7")",
      R"(Id="23" CreationDate="2018-03-13T09:00:00.000" UserId="7")",  // malformed: no PostId
  };
  t.votes = {
      R"(Id="30" PostId="404" VoteTypeId="2" CreationDate="2018-03-13T00:00:00.000")",
      R"(Id="31" PostId="2" VoteTypeId="2" CreationDate="2018-03-13T00:00:00.000")",
      R"(Id="32" PostId="1" VoteTypeId="1" CreationDate="2018-03-13T00:00:00.000")",
      R"(Id="33" PostId="1" VoteTypeId="3" CreationDate="2018-03-13T00:00:00.000")",
      R"(Id="34" PostId="1" VoteTypeId="2" CreationDate="")",
  };
  Imported got = ImportTables(tmp, t);
  const std::vector<std::string> want = {
      "forum_post se-post-1 1520874000000 m=se-7 c=se-post-1 r= se_type=question",
      "forum_post se-post-6 1520874000000 m=se-7 c=se-post-6 r= se_type=question",
      "forum_post se-post-7 1520928000000 m= c=se-post-7 r= se_type=question",
      "comment se-comment-21 1520931600000 m= c=se-post-1 r=se-post-1 se_type=comment",
      "comment se-comment-22 1520931600000 m=se-7 c= r=se-post-404 se_type=comment",
  };
  EXPECT_EQ(Lines(got), want);
  EXPECT_EQ(Skipped(got, Skip::kMalformedRow), 7u);
  EXPECT_EQ(Skipped(got, Skip::kCommunityBot), 3u);
  EXPECT_EQ(Skipped(got, Skip::kPostType), 1u);
  EXPECT_EQ(Skipped(got, Skip::kAcceptedAnswerMissing), 1u);
  EXPECT_EQ(Skipped(got, Skip::kVoteOnUnimportedPost), 2u);
  EXPECT_EQ(Skipped(got, Skip::kUnusedAcceptVote), 1u);
  EXPECT_EQ(Skipped(got, Skip::kVoteType), 1u);
  EXPECT_EQ(got.stats.Skipped(), 16u);
  EXPECT_EQ(got.stats.without_member, 2u);
  EXPECT_EQ(got.stats.without_thread, 1u);
  EXPECT_EQ(Summary(got.stats),
            "5 events (comment 2, forum_post 3); skipped 16 rows (community bot 3, post type "
            "not imported 1, vote type not imported 1, up-vote on a post not imported 2, accept "
            "vote on an answer not accepted 1, accepted answer not in Posts.xml 1, malformed row "
            "7); 2 events of deleted accounts without member_id; 1 comments on posts not "
            "imported, without content_id");
}

TEST(StackExchangeImport, EmptyDumpGivesNoEvents) {
  TempDir tmp;
  Imported got = ImportTables(tmp, {});
  EXPECT_TRUE(got.events.empty());
  EXPECT_EQ(Summary(got.stats), "0 events; skipped 0 rows");
}

TEST(StackExchangeImport, MissingOrBrokenFilesAreNamed) {
  TempDir tmp;
  EXPECT_EQ(CheckDumpDir(tmp.Sub("absent")).message(), tmp.Sub("absent") + ": no such directory");
  EXPECT_FALSE(ReadDump(tmp.Sub("absent")).ok());

  const std::string dir = tmp.Sub("stackexchange-broken");
  WriteDump(dir, {});
  std::filesystem::remove(std::filesystem::path(dir) / "Votes.xml");
  EXPECT_NE(CheckDumpDir(dir).message().find("Votes.xml: no such file"), std::string::npos);
  EXPECT_NE(ReadDump(dir).status().message().find("Votes.xml: no such file"), std::string::npos);

  WriteTable(dir, "Votes.xml", {});
  std::ofstream(std::filesystem::path(dir) / "Posts.xml") << "<posts><row Id=\"1\" </posts>";
  std::string message = ReadDump(dir).status().message();
  EXPECT_NE(message.find("Posts.xml: not well-formed XML at byte "), std::string::npos) << message;

  WriteTable(dir, "Posts.xml", {});
  WriteTable(dir, "Comments.xml", {});
  std::filesystem::rename(std::filesystem::path(dir) / "Comments.xml",
                          std::filesystem::path(dir) / "Users.xml");
  message = ReadDump(dir).status().message();
  EXPECT_NE(message.find("Users.xml: expected a <users> root element, found <comments>"),
            std::string::npos)
      << message;
}

TEST(StackExchangeImport, SiteComesFromTheDirectoryName) {
  EXPECT_EQ(SiteFromDir("/d/stackexchange-quantumcomputing"), "quantumcomputing");
  EXPECT_EQ(SiteFromDir("d/stackexchange-physics/"), "physics");
  EXPECT_EQ(SiteFromDir("physics.stackexchange.com"), "physics");
  EXPECT_EQ(SiteFromDir("/d/data"), std::nullopt);
  EXPECT_EQ(SiteFromDir("stackexchange-"), std::nullopt);
}

// The real dump, counted here by plain string scanning of its <row lines
// (attribute values never hold a raw quote), independently of the importer.
class RealDump {
 public:
  explicit RealDump(const std::string& dir) : dir_(dir) {}

  // The attributes of each <row of `file`, only those named in `names`.
  std::vector<std::map<std::string, std::string>> Rows(const std::string& file,
                                                       const std::vector<std::string>& names) {
    std::vector<std::map<std::string, std::string>> rows;
    std::ifstream in(dir_ + "/" + file);
    for (std::string line; std::getline(in, line);) {
      if (line.find("<row ") == std::string::npos) continue;
      auto& row = rows.emplace_back();
      for (const std::string& name : names) {
        const std::string open = " " + name + "=\"";
        size_t at = line.find(open);
        if (at == std::string::npos) continue;
        at += open.size();
        row[name] = line.substr(at, line.find('"', at) - at);
      }
    }
    return rows;
  }

 private:
  std::string dir_;
};

TEST(StackExchangeImport, ImportsTheRealQuantumComputingDump) {
  const std::string dir = CHORUS_STACKEXCHANGE_DIR;
  RealDump real(dir);
  auto users = real.Rows("Users.xml", {"Id"});
  auto posts = real.Rows("Posts.xml", {"Id", "PostTypeId", "OwnerUserId", "AcceptedAnswerId"});
  auto comments = real.Rows("Comments.xml", {"UserId"});
  auto votes = real.Rows("Votes.xml", {"PostId", "VoteTypeId"});
  // The dataset's README gives these; a scanner that disagrees is broken.
  ASSERT_EQ(posts.size(), 1986u);
  ASSERT_EQ(comments.size(), 3413u);
  ASSERT_EQ(votes.size(), 12560u);
  ASSERT_EQ(users.size(), 3461u);

  std::set<std::string> answers_by_people, questions_and_answers;
  uint64_t questions = 0, answers = 0, accepted = 0, members = 0, replies = 0, upvotes = 0;
  for (auto& p : posts) {
    const bool q = p["PostTypeId"] == "1", a = p["PostTypeId"] == "2";
    if (q || a) questions_and_answers.insert(p["Id"]);
    if (p["OwnerUserId"] == "-1") continue;
    questions += q;
    answers += a;
    if (a) answers_by_people.insert(p["Id"]);
  }
  for (auto& p : posts) {
    if (p["PostTypeId"] == "1") accepted += answers_by_people.contains(p["AcceptedAnswerId"]);
  }
  for (auto& u : users) members += u["Id"] != "-1";
  for (auto& c : comments) replies += c["UserId"] != "-1";
  for (auto& v : votes) {
    upvotes += v["VoteTypeId"] == "2" && questions_and_answers.contains(v["PostId"]);
  }
  EXPECT_EQ(questions, 612u);  // README: 612 questions, 1,060 answers
  EXPECT_EQ(answers, 1060u);

  ASSERT_TRUE(CheckDumpDir(dir).ok());
  auto dump = ReadDump(dir);
  ASSERT_TRUE(dump.ok()) << dump.status().message();
  ASSERT_EQ(SiteFromDir(dir), "quantumcomputing");
  Imported got = Convert(dump.value(), {"quantumcomputing"});
  const ImportStats& s = got.stats;
  EXPECT_EQ(s.written[v1::EVENT_KIND_FORUM_POST], questions);
  EXPECT_EQ(s.written[v1::EVENT_KIND_COMMENT], answers + replies);
  EXPECT_EQ(s.written[v1::EVENT_KIND_MEMBER_JOINED], members);
  EXPECT_EQ(s.written[v1::EVENT_KIND_CONTRIBUTION], accepted);
  EXPECT_EQ(s.written[v1::EVENT_KIND_REACTION], upvotes);
  EXPECT_EQ(s.Written(), questions + answers + replies + members + accepted + upvotes);
  EXPECT_EQ(got.events.size(), s.Written());

  // Every event decodes and validates as the pipeline would see it, comes in
  // event-time order, has a unique id, and replies to an event written here.
  std::set<std::string> ids;
  for (const v1::EngagementEvent& e : got.events) ids.insert(e.event_id());
  EXPECT_EQ(ids.size(), got.events.size());
  Decoder decoder;
  int64_t previous = 0;
  for (const v1::EngagementEvent& e : got.events) {
    const std::string value = e.SerializeAsString();
    ops::Event event;
    auto bad =
        decoder.Decode({reinterpret_cast<const uint8_t*>(value.data()), value.size()}, event);
    ASSERT_FALSE(bad) << e.event_id();
    ASSERT_FALSE(Validate(event, value.size(), std::nullopt, ValidationLimits{})) << e.event_id();
    EXPECT_GE(Ms(e), previous) << e.event_id();
    previous = Ms(e);
    if (!e.reply_to_event_id().empty()) {
      EXPECT_TRUE(ids.contains(e.reply_to_event_id())) << Line(e);
    }
    EXPECT_NE(e.member_id(), "se--1");
  }
}

}  // namespace
}  // namespace chorus::stackexchange
