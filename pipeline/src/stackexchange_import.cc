// Convert: Stack Exchange rows to engagement events. Every mapping decision
// of the import is here; README.md ("Importing a Stack Exchange community")
// gives the reasons.
#include "chorus/pipeline/stackexchange_import.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>
#include <unordered_set>

#include "cli_support.h"

namespace chorus::stackexchange {
namespace {

constexpr int64_t kCommunityUserId = -1;
constexpr int kQuestion = 1;
constexpr int kAnswer = 2;
constexpr int kAcceptVote = 1;
constexpr int kUpVote = 2;

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The dump writes UTC without a zone and with milliseconds:
// "2018-03-12T18:13:40.127".
std::optional<ops::EventTime> ParseTime(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return ParseRfc3339(s + "Z");
}

std::string PostEventId(int64_t id) { return "se-post-" + std::to_string(id); }
std::string MemberId(int64_t user_id) { return "se-" + std::to_string(user_id); }

// "<qiskit><grover>" (or "|qiskit|grover|" in newer dumps) -> "qiskit,grover".
std::string JoinTags(const std::string& tags) {
  std::string out, tag;
  for (char c : tags + '|') {
    if (c == '<' || c == '>' || c == '|') {
      if (!tag.empty()) out += (out.empty() ? "" : ",") + tag;
      tag.clear();
    } else {
      tag.push_back(c);
    }
  }
  return out;
}

// Who wrote a post or comment.
struct Author {
  enum Kind { kMember, kDeleted, kCommunity } kind = kDeleted;
  std::string member_id;  // "se-<UserId>" for kMember, else empty
};

// nullopt for text that is not a user id.
std::optional<Author> ParseAuthor(const std::string& user_id) {
  if (user_id.empty()) return Author{Author::kDeleted, ""};
  auto id = ParseInt(user_id);
  if (!id) return std::nullopt;
  if (*id == kCommunityUserId) return Author{Author::kCommunity, ""};
  return Author{Author::kMember, MemberId(*id)};
}

// A readable post of Posts.xml.
struct Post {
  int64_t id = 0;
  int type = 0;
  int64_t thread = 0;  // the question: its own id, or an answer's ParentId
  ops::EventTime created;
  Author author;
  std::optional<int64_t> accepted_answer;  // questions only
  const PostRow* row = nullptr;
};

class Converter {
 public:
  Converter(const Dump& dump, const ImportOptions& options)
      : dump_(dump), channel_("stackexchange:" + options.site) {}

  Imported Run() && {
    Users();
    IndexPosts();
    AcceptVotes();
    Posts();
    AcceptedAnswers();
    Comments();
    Votes();
    std::sort(out_.events.begin(), out_.events.end(), Earlier);
    return std::move(out_);
  }

 private:
  static bool Earlier(const v1::EngagementEvent& a, const v1::EngagementEvent& b) {
    const auto& ta = a.occurred_at();
    const auto& tb = b.occurred_at();
    if (ta.seconds() != tb.seconds()) return ta.seconds() < tb.seconds();
    if (ta.nanos() != tb.nanos()) return ta.nanos() < tb.nanos();
    return a.event_id() < b.event_id();
  }

  void Count(Skip reason) { ++out_.stats.skipped[static_cast<int>(reason)]; }

  // A new event acted by `author` (a member, or nobody known).
  v1::EngagementEvent& Emit(v1::EventKind kind, std::string event_id, ops::EventTime at,
                            const Author& author) {
    v1::EngagementEvent& e = out_.events.emplace_back();
    e.set_event_id(std::move(event_id));
    const int64_t secs = ops::FloorDiv(at.millis(), 1000);
    e.mutable_occurred_at()->set_seconds(secs);
    e.mutable_occurred_at()->set_nanos(
        static_cast<int32_t>((at.millis() - secs * 1000) * 1'000'000));
    e.set_channel_id(channel_);
    e.set_platform(v1::PLATFORM_FORUM);
    e.set_kind(kind);
    e.set_actor_role(v1::ACTOR_ROLE_MEMBER);
    e.set_member_id(author.member_id);
    if (author.kind == Author::kDeleted) ++out_.stats.without_member;
    ++out_.stats.written[kind];
    return e;
  }

  // The thread (question) a post belongs to, if it is an imported question or answer.
  const Post* ThreadPost(std::optional<int64_t> post_id) const {
    if (!post_id) return nullptr;
    auto it = index_.find(*post_id);
    if (it == index_.end()) return nullptr;
    const Post& p = posts_[it->second];
    return p.type == kQuestion || p.type == kAnswer ? &p : nullptr;
  }

  // A vote is dated to its day (00:00); it cannot precede the post it is on.
  ops::EventTime VoteTime(ops::EventTime vote_day, const Post& post) {
    if (vote_day >= post.created) return vote_day;
    ++out_.stats.votes_at_post_time;
    return post.created;
  }

  void Users() {
    for (const UserRow& u : dump_.users) {
      auto id = ParseInt(u.id);
      auto at = ParseTime(u.creation_date);
      if (!id || !at) {
        Count(Skip::kMalformedRow);
      } else if (*id == kCommunityUserId) {
        Count(Skip::kCommunityBot);
      } else {
        const Author member{Author::kMember, MemberId(*id)};
        v1::EngagementEvent& e =
            Emit(v1::EVENT_KIND_MEMBER_JOINED, "se-user-" + std::to_string(*id), *at, member);
        (*e.mutable_attributes())["se_type"] = "user";
      }
    }
  }

  // Readable posts in row order, and their index by id; the rest are malformed.
  void IndexPosts() {
    for (const PostRow& r : dump_.posts) {
      Post p;
      auto id = ParseInt(r.id);
      auto type = ParseInt(r.post_type_id);
      auto at = ParseTime(r.creation_date);
      auto author = ParseAuthor(r.owner_user_id);
      auto parent = ParseInt(r.parent_id);
      bool ok = id && type && at && author && (*type != kAnswer || parent) &&
                (r.accepted_answer_id.empty() || ParseInt(r.accepted_answer_id));
      if (!ok || index_.contains(*id)) {
        Count(Skip::kMalformedRow);
        continue;
      }
      p.id = *id;
      p.type = static_cast<int>(*type);
      p.thread = p.type == kAnswer ? *parent : p.id;
      p.created = *at;
      p.author = std::move(*author);
      if (p.type == kQuestion) p.accepted_answer = ParseInt(r.accepted_answer_id);
      p.row = &r;
      index_.emplace(p.id, posts_.size());
      posts_.push_back(std::move(p));
    }
  }

  // The latest accept vote of each answer some question has accepted.
  void AcceptVotes() {
    for (const Post& p : posts_) {
      if (p.accepted_answer) accept_time_.emplace(*p.accepted_answer, std::nullopt);
    }
    for (const VoteRow& v : dump_.votes) {
      auto post = ParseInt(v.post_id);
      auto at = ParseTime(v.creation_date);
      if (ParseInt(v.vote_type_id) != kAcceptVote || !post || !at) continue;
      auto it = accept_time_.find(*post);
      if (it != accept_time_.end() && (!it->second || *it->second < *at)) it->second = *at;
    }
  }

  void Posts() {
    for (const Post& p : posts_) {
      if (p.type != kQuestion && p.type != kAnswer) {
        Count(Skip::kPostType);
        continue;
      }
      if (p.author.kind == Author::kCommunity) {
        Count(Skip::kCommunityBot);
        continue;
      }
      const bool question = p.type == kQuestion;
      v1::EngagementEvent& e = Emit(question ? v1::EVENT_KIND_FORUM_POST : v1::EVENT_KIND_COMMENT,
                                    PostEventId(p.id), p.created, p.author);
      e.set_content_id(PostEventId(p.thread));
      e.set_content_type(v1::CONTENT_TYPE_TEXT);
      if (!question) e.set_reply_to_event_id(PostEventId(p.thread));
      auto& attrs = *e.mutable_attributes();
      attrs["se_type"] = question ? "question" : "answer";
      if (!p.row->score.empty()) attrs["score"] = p.row->score;
      if (question && !p.row->tags.empty()) attrs["tags"] = JoinTags(p.row->tags);
    }
  }

  // A question's accepted answer is a CONTRIBUTION by the answer's author.
  void AcceptedAnswers() {
    for (const Post& q : posts_) {
      if (!q.accepted_answer || q.type != kQuestion) continue;
      const Post* a = ThreadPost(q.accepted_answer);
      if (a == nullptr || a->type != kAnswer) {
        Count(Skip::kAcceptedAnswerMissing);
        continue;
      }
      if (a->author.kind == Author::kCommunity) {
        Count(Skip::kCommunityBot);
        continue;
      }
      const std::optional<ops::EventTime>& vote = accept_time_.at(a->id);
      ops::EventTime at = vote ? VoteTime(*vote, *a) : a->created;
      v1::EngagementEvent& e =
          Emit(v1::EVENT_KIND_CONTRIBUTION, "se-accept-" + std::to_string(a->id), at, a->author);
      e.set_content_id(PostEventId(q.id));
      e.set_content_type(v1::CONTENT_TYPE_TEXT);
      e.set_reply_to_event_id(PostEventId(a->id));
      (*e.mutable_attributes())["se_type"] = "accepted_answer";
    }
  }

  void Comments() {
    for (const CommentRow& c : dump_.comments) {
      auto id = ParseInt(c.id);
      auto post = ParseInt(c.post_id);
      auto at = ParseTime(c.creation_date);
      auto author = ParseAuthor(c.user_id);
      if (!id || !post || !at || !author) {
        Count(Skip::kMalformedRow);
        continue;
      }
      if (author->kind == Author::kCommunity) {
        Count(Skip::kCommunityBot);
        continue;
      }
      v1::EngagementEvent& e =
          Emit(v1::EVENT_KIND_COMMENT, "se-comment-" + std::to_string(*id), *at, *author);
      e.set_reply_to_event_id(PostEventId(*post));
      e.set_content_type(v1::CONTENT_TYPE_TEXT);
      if (const Post* p = ThreadPost(post)) {
        e.set_content_id(PostEventId(p->thread));
      } else {
        ++out_.stats.without_thread;
      }
      auto& attrs = *e.mutable_attributes();
      attrs["se_type"] = "comment";
      if (!c.score.empty()) attrs["score"] = c.score;
    }
  }

  void Votes() {
    static const Author kUnknownVoter{Author::kMember, ""};  // a member, not known which
    for (const VoteRow& v : dump_.votes) {
      auto id = ParseInt(v.id);
      auto post = ParseInt(v.post_id);
      auto type = ParseInt(v.vote_type_id);
      auto at = ParseTime(v.creation_date);
      if (!id || !post || !type || !at) {
        Count(Skip::kMalformedRow);
      } else if (*type == kAcceptVote) {
        // The latest accept vote of an accepted answer dates it; any other
        // (an answer no longer accepted, an older vote) is unused.
        auto it = accept_time_.find(*post);
        if (it != accept_time_.end() && it->second == at &&
            accept_vote_used_.insert(*post).second) {
          ++out_.stats.accept_votes_used;
        } else {
          Count(Skip::kUnusedAcceptVote);
        }
      } else if (*type != kUpVote) {
        Count(Skip::kVoteType);
      } else if (const Post* p = ThreadPost(post)) {
        v1::EngagementEvent& e = Emit(v1::EVENT_KIND_REACTION, "se-vote-" + std::to_string(*id),
                                      VoteTime(*at, *p), kUnknownVoter);
        e.set_content_id(PostEventId(p->thread));
        e.set_content_type(v1::CONTENT_TYPE_TEXT);
        e.set_reply_to_event_id(PostEventId(p->id));
        (*e.mutable_attributes())["se_type"] = "upvote";
      } else {
        Count(Skip::kVoteOnUnimportedPost);
      }
    }
  }

  const Dump& dump_;
  const std::string channel_;
  std::vector<Post> posts_;
  std::unordered_map<int64_t, size_t> index_;  // post id -> posts_
  // Accepted answer id -> its latest accept vote, if any.
  std::unordered_map<int64_t, std::optional<ops::EventTime>> accept_time_;
  std::unordered_set<int64_t> accept_vote_used_;  // answers whose dating vote was seen
  Imported out_;
};

}  // namespace

std::string_view Describe(Skip reason) {
  switch (reason) {
    case Skip::kCommunityBot:
      return "community bot";
    case Skip::kPostType:
      return "post type not imported";
    case Skip::kVoteType:
      return "vote type not imported";
    case Skip::kVoteOnUnimportedPost:
      return "up-vote on a post not imported";
    case Skip::kUnusedAcceptVote:
      return "accept vote on an answer not accepted";
    case Skip::kAcceptedAnswerMissing:
      return "accepted answer not in Posts.xml";
    case Skip::kMalformedRow:
      return "malformed row";
  }
  return "unknown";
}

uint64_t ImportStats::Written() const {
  uint64_t n = 0;
  for (uint64_t w : written) n += w;
  return n;
}

uint64_t ImportStats::Skipped() const {
  uint64_t n = 0;
  for (uint64_t s : skipped) n += s;
  return n;
}

std::string Summary(const ImportStats& s) {
  // "a 1, b 2" from the non-zero counts.
  auto list = [](auto&& name, const auto& counts) {
    std::string out;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      out += (out.empty() ? "" : ", ") + std::string(name(i)) + " " + std::to_string(counts[i]);
    }
    return out;
  };
  auto kind = [](size_t i) { return ops::Name(static_cast<ops::EventKind>(i)); };
  auto skip = [](size_t i) { return Describe(static_cast<Skip>(i)); };
  std::string line = std::to_string(s.Written()) + " events";
  if (s.Written() > 0) line += " (" + list(kind, s.written) + ")";
  line += "; skipped " + std::to_string(s.Skipped()) + " rows";
  if (s.Skipped() > 0) line += " (" + list(skip, s.skipped) + ")";
  auto note = [&](uint64_t n, const char* what) {
    if (n > 0) line += "; " + std::to_string(n) + " " + what;
  };
  note(s.accept_votes_used, "accept votes dated accepted answers");
  note(s.votes_at_post_time, "votes placed at their post's creation time");
  note(s.without_member, "events of deleted accounts without member_id");
  note(s.without_thread, "comments on posts not imported, without content_id");
  return line;
}

Imported Convert(const Dump& dump, const ImportOptions& options) {
  return Converter(dump, options).Run();
}

}  // namespace chorus::stackexchange
