// A Stack Exchange data dump as chorus.v1.EngagementEvent records.
//
// A dump directory holds one XML file per table (Posts.xml, Comments.xml,
// Votes.xml, Users.xml, Badges.xml, ...), each a root element with one
// <row> per record. Two steps, so every mapping decision lives in one pure
// function:
//   ReadDump  — the effect: reads the four tables chorus uses into plain rows
//               (attribute text as written, nothing interpreted);
//   Convert   — pure and deterministic: rows to events sorted by
//               (occurred_at, event_id), plus what was written and skipped.
// The mapping and its reasons are in README.md, "Importing a Stack Exchange
// community". The whole dump is held in memory (fine for a community of a
// few hundred MB of XML, not for Stack Overflow itself).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/pipeline/status.h"
#include "chorus/v1/engagement.pb.h"

namespace chorus::stackexchange {

// Attribute values as the dump spells them; "" when the attribute is absent.
struct PostRow {
  std::string id, post_type_id, parent_id, accepted_answer_id, owner_user_id, creation_date, score,
      tags;
};
struct CommentRow {
  std::string id, post_id, user_id, creation_date, score;
};
struct VoteRow {
  std::string id, post_id, vote_type_id, creation_date;
};
struct UserRow {
  std::string id, creation_date;
};

struct Dump {
  std::vector<PostRow> posts;
  std::vector<CommentRow> comments;
  std::vector<VoteRow> votes;
  std::vector<UserRow> users;
};

// The tables ReadDump needs, in the order it reads them.
inline constexpr std::array<std::string_view, 4> kDumpFiles = {"Users.xml", "Posts.xml",
                                                               "Comments.xml", "Votes.xml"};

// OK if `dir` is a directory holding every file of kDumpFiles; otherwise
// the error names the directory or the first missing file.
Status CheckDumpDir(const std::string& dir);

// Reads the kDumpFiles tables of `dir`. Errors name the file and say what is
// wrong with it: missing, not well-formed XML (with the byte offset), or a
// root element other than the table's (<posts> for Posts.xml).
Result<Dump> ReadDump(const std::string& dir);

// The site a dump directory holds, from its name: "stackexchange-physics"
// and "physics.stackexchange.com" give "physics". nullopt for any other
// name: the caller must be told the site.
std::optional<std::string> SiteFromDir(const std::string& dir);

// Why a row (or the event it would have given) was not written. Stable.
enum class Skip : uint8_t {
  kCommunityBot,           // by or for user -1, the site's "Community" process
  kPostType,               // a post that is neither question nor answer (tag wikis, ...)
  kVoteType,               // a vote other than up (2) or accept (1): down, favourite, close, ...
  kVoteOnUnimportedPost,   // an up-vote on a post not imported: deleted, or a tag wiki
  kUnusedAcceptVote,       // an accept vote on an answer no question has accepted
  kAcceptedAnswerMissing,  // a question's AcceptedAnswerId is not an answer in Posts.xml
  kMalformedRow,           // Id, a reference or CreationDate missing or unreadable
};
inline constexpr int kSkipCount = 7;

// "community bot", "post type not imported", ... for the summary line.
std::string_view Describe(Skip reason);

struct ImportStats {
  std::array<uint64_t, ops::kEventKindCount> written{};  // by EventKind number
  std::array<uint64_t, kSkipCount> skipped{};            // by Skip
  // Posts and comments whose author account was deleted (no OwnerUserId /
  // UserId): written with an empty member_id.
  uint64_t without_member = 0;
  // Comments on a post not imported (deleted, or a tag wiki): written
  // without content_id, still replying to the post.
  uint64_t without_thread = 0;
  // Accept votes that dated an accepted answer's CONTRIBUTION.
  uint64_t accept_votes_used = 0;
  // Votes dated the day their post was created, whose 00:00 would precede
  // the post: placed at the post's CreationDate instead.
  uint64_t votes_at_post_time = 0;

  uint64_t Written() const;
  uint64_t Skipped() const;
};

// One line, e.g. "12 events (forum_post 3, comment 9); skipped 2 rows
// (community bot 1, vote type not imported 1); ...". Zero counts are left out.
std::string Summary(const ImportStats& stats);

struct ImportOptions {
  std::string site;  // channel_id is "stackexchange:" + site. REQUIRES: not empty.
};

struct Imported {
  std::vector<v1::EngagementEvent> events;  // sorted by (occurred_at, event_id)
  ImportStats stats;
};

// Maps the rows to events. Pure: the same dump gives the same events.
Imported Convert(const Dump& dump, const ImportOptions& options);

}  // namespace chorus::stackexchange
