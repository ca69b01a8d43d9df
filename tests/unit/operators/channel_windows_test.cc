// ChannelGrowth's window index against a plain reference model: random
// events over several partitions and channels, out of order and sometimes
// late, random watermark advances, drains, restores and dropped partitions.
// Closed windows must match the model in content and order, and the store
// must always restore to the same open windows.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "channel_test_util.h"
#include "chorus/operators/channel_growth.h"

namespace chorus::ops {
namespace {

using channel_test::Advance;
using channel_test::Closed;
using channel_test::kDy;
using channel_test::kHr;
using channel_test::kMin;
using channel_test::Store;

// Stricter than channel_test::Drain: no range deletes, and a delete must
// remove something the drains wrote.
void DrainStrictly(ChannelGrowth& g, Store& store) {
  Mutations out;
  g.DrainDirty(out);
  for (const Mutation& m : out) {
    ASSERT_NE(m.op, Mutation::Op::kDeleteRange);
    if (m.op == Mutation::Op::kPut) {
      store[m.key] = m.value;
    } else {
      ASSERT_EQ(store.erase(m.key), 1u) << "deletes only what it wrote";
    }
  }
}

void RestoreInto(ChannelGrowth& g, const Store& store) {
  for (const auto& [k, v] : store) ASSERT_TRUE(g.Restore(k, v));
}

// The specification of windows, spelled out with ordered maps: a window
// fires (revision 0) when the watermark reaches its end, a part updated
// after that asks for a correction at the next advance, and the window
// closes at end + lateness.
class Model {
 public:
  explicit Model(int64_t lateness) : lateness_(lateness) {}

  void Apply(int32_t partition, const Event& e, bool late) {
    if (e.platform != Platform::kUnspecified) {
      platform_[{partition, std::string(e.channel_id)}] = e.platform;
    }
    if (late) return;
    for (int s = 0; s < kWindowSpecCount; ++s) {
      int64_t start = WindowStart(e.occurred_at, kWindowSpecs[s].size).millis();
      int64_t end = start + kWindowSpecs[s].size.count();
      if (watermark_ && *watermark_ >= end + lateness_) continue;
      Part& part = open_[{end, s, std::string(e.channel_id)}][partition];
      ChannelCounts& c = part.counts;
      c.events_by_kind[static_cast<size_t>(e.kind)] += Multiplicity(e);
      if (e.kind == EventKind::kPostPublished) {
        c.posts_by_content_type[static_cast<size_t>(e.content_type)] += Multiplicity(e);
      }
      if (watermark_ && *watermark_ >= end) part.pending = true;
    }
  }

  std::vector<Closed> Advance(int64_t watermark) {
    std::vector<Closed> out;
    for (auto& [key, parts] : open_) {
      bool pending = false;
      uint32_t corrections = 0;
      for (const auto& [partition, part] : parts) {
        pending |= part.pending;
        corrections = std::max(corrections, part.corrections);
      }
      if (!pending) continue;
      out.push_back(Result(key, corrections + 1));
      for (auto& [partition, part] : parts) {
        part.pending = false;
        part.corrections = corrections + 1;
      }
    }
    if (!watermark_ || watermark > *watermark_) {
      for (const auto& [key, parts] : open_) {
        int64_t end = std::get<0>(key);
        if ((!watermark_ || end > *watermark_) && end <= watermark) out.push_back(Result(key, 0));
      }
      watermark_ = watermark;
    }
    while (!open_.empty() && std::get<0>(open_.begin()->first) + lateness_ <= watermark) {
      open_.erase(open_.begin());
    }
    return out;
  }

  void DropPartition(int32_t partition) {
    for (auto it = open_.begin(); it != open_.end();) {
      it->second.erase(partition);
      it = it->second.empty() ? open_.erase(it) : std::next(it);
    }
    std::erase_if(platform_, [&](const auto& kv) { return kv.first.first == partition; });
  }

  size_t open_windows() const {
    size_t n = 0;
    for (const auto& [key, parts] : open_) n += parts.size();
    return n;
  }

 private:
  struct Part {
    ChannelCounts counts;
    bool pending = false;
    uint32_t corrections = 0;
  };
  using Key = std::tuple<int64_t, int, std::string>;

  Closed Result(const Key& key, uint32_t revision) {
    const auto& [end, s, channel] = key;
    Closed c{channel,
             std::string(kWindowSpecs[s].name),
             end - kWindowSpecs[s].size.count(),
             end,
             Platform::kUnspecified,
             {},
             revision};
    for (const auto& [partition, part] : open_[key]) {
      c.counts.Add(part.counts);
      if (c.platform == Platform::kUnspecified) c.platform = platform_[{partition, channel}];
    }
    return c;
  }

  int64_t lateness_;
  std::optional<int64_t> watermark_;
  std::map<Key, std::map<int32_t, Part>> open_;
  std::map<std::pair<int32_t, std::string>, Platform> platform_;
};

const std::array<std::string, 7> kChannels = {
    "a", "b", "forum:x", "twitter:acme", "zz", "m", "a-much-longer-channel-id-than-the-rest"};

class Scenario {
 public:
  Scenario(uint32_t seed, int64_t lateness)
      : lateness_(lateness), rng_(seed), g_(WindowOptions{Millis(lateness)}), model_(lateness) {}

  // One random step: an event, a watermark advance, a drain, a restore
  // check or a dropped partition.
  void Step() {
    int op = Uniform(0, 99);
    if (op < 80) {
      ApplyRandomEvent();
    } else if (op < 90) {
      // Mostly a little behind the newest event; now and then far ahead, so
      // that events turn late.
      watermark_ = std::max(watermark_, Uniform(0, 19) == 0 ? watermark_ + Uniform(0, 2 * kHr)
                                                            : now_ - Uniform(0, 10 * kMin));
      advanced_ = watermark_;
      ASSERT_EQ(Advance(g_, watermark_), model_.Advance(watermark_));
    } else if (op < 96) {
      DrainStrictly(g_, store_);
    } else if (op < 99) {
      CheckRestore();
    } else {
      int32_t partition = Uniform(0, 4);
      g_.DropPartition(partition);
      model_.DropPartition(partition);
      DrainStrictly(g_, store_);
      std::erase_if(store_, [&](const auto& kv) {
        return kv.first.compare(0, 4, std::string{0, 0, 0, static_cast<char>(partition)}) == 0;
      });
    }
    ASSERT_EQ(g_.open_windows(), model_.open_windows());
  }

  // Closes everything, in the original and in a copy restored from the store.
  void Finish() {
    DrainStrictly(g_, store_);
    ChannelGrowth restored = Restored();
    ASSERT_EQ(restored.open_windows(), g_.open_windows());
    std::vector<Closed> expected = model_.Advance(watermark_ + 10 * kDy);
    ASSERT_EQ(Advance(g_, watermark_ + 10 * kDy), expected);
    ASSERT_EQ(Advance(restored, watermark_ + 10 * kDy), expected);
    EXPECT_EQ(g_.open_windows(), 0u);
    DrainStrictly(g_, store_);
    for (const auto& [key, value] : store_) EXPECT_EQ(key[4], 0x08) << "only channel totals";
  }

  size_t closed_so_far() const { return closed_; }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  std::vector<Closed> Advance(ChannelGrowth& g, int64_t watermark) {
    std::vector<Closed> out = chorus::ops::Advance(g, watermark);
    closed_ += out.size();
    return out;
  }

  void ApplyRandomEvent() {
    // Mostly just behind the watermark's front, sometimes far behind it.
    now_ += Uniform(0, 20'000);
    int64_t t = now_ - (Uniform(0, 9) == 0 ? Uniform(0, 3 * kHr) : Uniform(0, 2 * kMin));
    Event e;
    e.event_id = "id";
    e.occurred_at = EventTime::FromMillis(t);
    e.channel_id = kChannels[Uniform(0, kChannels.size() - 1)];
    e.platform = static_cast<Platform>(Uniform(0, 3));
    e.kind = Uniform(0, 1) == 0 ? EventKind::kPostPublished : EventKind::kImpression;
    e.content_type = static_cast<ContentType>(Uniform(0, kContentTypeCount - 1));
    e.count = Uniform(1, 5);
    bool late = IsLate(e.occurred_at, EventTime::FromMillis(watermark_), Millis(lateness_));
    // A caller sometimes misjudges a late event; no closed window reopens.
    if (late && Uniform(0, 3) == 0) late = false;
    int32_t partition = Uniform(0, 4);
    g_.Apply(partition, e, late);
    model_.Apply(partition, e, late);
  }

  // A copy restored from the store, told the watermark it was drained at,
  // as the runtime restores it with its watermark.
  ChannelGrowth Restored() {
    ChannelGrowth restored(WindowOptions{Millis(lateness_)});
    if (advanced_) restored.RestoreWatermark(EventTime::FromMillis(*advanced_));
    RestoreInto(restored, store_);
    return restored;
  }

  void CheckRestore() {
    DrainStrictly(g_, store_);
    ChannelGrowth restored = Restored();
    ASSERT_EQ(restored.open_windows(), g_.open_windows());
    Mutations none;
    restored.DrainDirty(none);
    EXPECT_TRUE(none.empty());
  }

  int64_t lateness_;
  std::mt19937 rng_;
  ChannelGrowth g_;
  Model model_;
  Store store_;
  int64_t now_ = 5 * kDy;
  int64_t watermark_ = 5 * kDy - kHr;
  std::optional<int64_t> advanced_;  // the last watermark g_ advanced to
  size_t closed_ = 0;
};

TEST(ChannelWindowIndex, MatchesTheModelOverRandomScenarios) {
  size_t closed = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    Scenario s(seed, seed % 2 == 0 ? kHr : 5 * kMin);
    for (int i = 0; i < 2'000; ++i) {
      s.Step();
      if (testing::Test::HasFatalFailure()) return;
    }
    s.Finish();
    if (testing::Test::HasFatalFailure()) return;
    closed += s.closed_so_far();
  }
  EXPECT_GT(closed, 5'000u) << "the scenarios close plenty of windows";
}

Event Post(int64_t ms, std::string_view channel) {
  Event e;
  e.event_id = "id";
  e.occurred_at = EventTime::FromMillis(ms);
  e.channel_id = channel;
  e.platform = Platform::kForum;
  e.kind = EventKind::kPostPublished;
  e.content_type = ContentType::kText;
  return e;
}

TEST(ChannelWindowIndex, OneResultPerChannelInIdOrderWhateverTheOpeningOrder) {
  ChannelGrowth g;
  // Opened in reverse id order, from partitions in descending order.
  for (int32_t p = 3; p >= 0; --p) {
    for (std::string_view ch : {"d", "c", "b", "a"}) g.Apply(p, Post(p * 1'000, ch), false);
  }
  std::vector<Closed> closed = Advance(g, kMin);
  ASSERT_EQ(closed.size(), 4u);
  for (size_t i = 0; i < closed.size(); ++i) {
    EXPECT_EQ(closed[i].channel, std::string(1, static_cast<char>('a' + i)));
    EXPECT_EQ(closed[i].counts.posts_by_content_type[static_cast<size_t>(ContentType::kText)], 4u);
  }
}

TEST(ChannelWindowIndex, AnOlderWindowOpenedLaterStillFiresFirst) {
  ChannelGrowth g;
  g.Apply(0, Post(10 * kMin, "a"), false);
  g.Apply(0, Post(5 * kMin, "b"), false);  // out of order: an earlier bucket
  g.Apply(1, Post(7 * kMin, "a"), false);
  std::vector<Closed> closed = Advance(g, 11 * kMin);
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[0].start, 5 * kMin);
  EXPECT_EQ(closed[1].start, 7 * kMin);
  EXPECT_EQ(closed[2].start, 10 * kMin);
  EXPECT_EQ(g.open_windows(), 9u) << "fired, and open for the allowed lateness";
}

TEST(ChannelWindowIndex, DroppingAPartitionKeepsTheOthersPartsOfASharedWindow) {
  ChannelGrowth g;
  for (int32_t p = 0; p < 3; ++p) g.Apply(p, Post(0, "a"), false);
  g.DropPartition(1);
  EXPECT_EQ(g.open_windows(), 6u);
  std::vector<Closed> closed = Advance(g, kMin);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].counts.posts_by_content_type[static_cast<size_t>(ContentType::kText)], 2u);
  // The partition comes back: its windows open afresh and close with the rest.
  g.Apply(1, Post(kHr + kMin, "a"), false);
  closed = Advance(g, 2 * kHr + 2 * kMin);
  ASSERT_EQ(closed.size(), 3u) << "hour [0, 1 h) of partitions 0 and 2, minute and hour of 1";
  EXPECT_EQ(closed[0].spec, "1h");
  EXPECT_EQ(closed[0].counts.posts_by_content_type[static_cast<size_t>(ContentType::kText)], 2u);
  EXPECT_EQ(closed[1].start, kHr + kMin);
  EXPECT_EQ(closed[2].start, kHr);
}

// A count-only size: per end, one count of the windows fired and one of
// those corrected, equal in number to the results whole windows make from
// the same events, and across restores from its own drains. Nothing else
// changes: the other sizes' results, the open windows, and every stored
// record but the minute groups, which are stored under their own tag for
// the same keys.
TEST(ChannelWindowIndex, ACountOnlySizeCountsWhatWholeWindowsHandOut) {
  constexpr int64_t kLateness = 5 * kMin;
  const WindowOptions options{Millis(kLateness)};
  ChannelGrowth whole(options);
  ChannelGrowth counting(options);
  counting.CountOnly(0, true);  // 1m
  Store whole_store, counting_store;
  std::mt19937 rng(5);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  // A record's key with the minute groups' tags made one.
  auto comparable = [](std::string key) {
    if (key.size() > 4 && key[4] == 0x09) key[4] = 0x07;
    return key;
  };
  int64_t now = 0, watermark = 0;
  size_t counted = 0, corrected = 0, restores = 0;
  for (int round = 0; round < 400; ++round) {
    for (int i = 0; i < 40; ++i) {
      now += uniform(0, 4'000);
      const int64_t t = now - (uniform(0, 4) == 0 ? uniform(0, 8 * kMin) : uniform(0, kMin));
      Event e = Post(t, kChannels[uniform(0, kChannels.size() - 1)]);
      const bool late = IsLate(e.occurred_at, EventTime::FromMillis(watermark), Millis(kLateness));
      const auto partition = static_cast<int32_t>(uniform(0, 3));
      whole.Apply(partition, e, late);
      counting.Apply(partition, e, late);
    }
    watermark = std::max(watermark, now - uniform(0, 2 * kMin));
    std::vector<Closed> expected;
    // (end, revision 0 or 1) -> the channels' minute windows fired or corrected
    std::map<std::pair<int64_t, uint32_t>, uint32_t> whole_minutes, counts;
    whole.AdvanceWatermark(EventTime::FromMillis(watermark), [&](const WindowResult& w) {
      ASSERT_FALSE(w.count_only);
      if (w.spec == &kWindowSpecs[0]) {
        ++whole_minutes[{w.end.millis(), w.revision == 0 ? 0u : 1u}];
        return;
      }
      expected.push_back(Closed{std::string(w.channel_id), std::string(w.spec->name),
                                w.start.millis(), w.end.millis(), w.platform, w.counts,
                                w.revision});
    });
    std::vector<Closed> got;
    counting.AdvanceWatermark(EventTime::FromMillis(watermark), [&](const WindowResult& w) {
      if (w.count_only) {
        ASSERT_EQ(w.spec, &kWindowSpecs[0]);
        ASSERT_LE(w.revision, 1u);
        EXPECT_EQ(w.end - w.start, kWindowSpecs[0].size);
        EXPECT_TRUE(counts.emplace(std::pair{w.end.millis(), w.revision}, w.windows).second)
            << "one count per end and kind";
        return;
      }
      ASSERT_NE(w.spec, &kWindowSpecs[0]) << "no minute comes whole";
      got.push_back(Closed{std::string(w.channel_id), std::string(w.spec->name), w.start.millis(),
                           w.end.millis(), w.platform, w.counts, w.revision});
    });
    ASSERT_EQ(counts, whole_minutes) << "round " << round;
    ASSERT_EQ(got, expected) << "round " << round;
    ASSERT_EQ(counting.open_windows(), whole.open_windows()) << "round " << round;
    for (const auto& [key, n] : counts) (key.second == 0 ? counted : corrected) += n;
    DrainStrictly(whole, whole_store);
    DrainStrictly(counting, counting_store);
    // The other records alike; minute groups under the same keys.
    std::set<std::string> whole_keys, counting_keys;
    for (const auto& [k, v] : whole_store) whole_keys.insert(comparable(k));
    for (const auto& [k, v] : counting_store) {
      counting_keys.insert(comparable(k));
      if (k[4] == 0x09) continue;
      auto it = whole_store.find(k);
      ASSERT_TRUE(it != whole_store.end() && it->second == v) << "round " << round;
    }
    ASSERT_EQ(counting_store.size(), whole_store.size()) << "round " << round;
    ASSERT_EQ(counting_keys, whole_keys) << "round " << round;
    if (round % 50 == 49) {  // a restart on what the drains stored
      ChannelGrowth restored(options);
      restored.CountOnly(0, true);
      RestoreInto(restored, counting_store);
      restored.RestoreWatermark(EventTime::FromMillis(watermark));
      ASSERT_EQ(restored.open_windows(), counting.open_windows());
      counting = std::move(restored);
      ++restores;
    }
  }
  EXPECT_GT(counted, 1000u);
  EXPECT_GT(corrected, 10u) << "late updates to fired minutes are counted";
  EXPECT_EQ(restores, 8u);
}

// Minute windows opened while nobody read them know no counts: restored
// under a caller that reads minutes, an end holding one is still counted,
// every channel's window of it once, while the ends opened since come whole.
TEST(ChannelWindowIndex, WindowsOpenedCountOnlyStayCountedWhenResultsAreRead) {
  ChannelGrowth counting;
  counting.CountOnly(0, true);
  counting.Apply(0, Post(10'000, "a"), false);
  counting.Apply(0, Post(20'000, "b"), false);
  Store store;
  DrainStrictly(counting, store);
  EXPECT_EQ(channel_test::CountWithTag(store, 0x09), 1u) << "one count-only minute group";
  EXPECT_EQ(channel_test::CountWithTag(store, 0x07), 2u) << "hour and day, whole";

  ChannelGrowth reading;  // every size whole
  RestoreInto(reading, store);
  EXPECT_EQ(reading.open_windows(), 6u);
  reading.Apply(1, Post(30'000, "a"), false);  // the same minute, another partition
  reading.Apply(0, Post(kMin + 5'000, "c"), false);
  std::vector<WindowResult> fired;
  reading.AdvanceWatermark(EventTime::FromMillis(2 * kMin),
                           [&](const WindowResult& w) { fired.push_back(w); });
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_TRUE(fired[0].count_only);
  EXPECT_EQ(fired[0].end.millis(), kMin);
  EXPECT_EQ(fired[0].windows, 2u) << "a (in two partitions) and b";
  EXPECT_EQ(fired[0].revision, 0u);
  EXPECT_FALSE(fired[1].count_only);
  EXPECT_EQ(fired[1].channel_id, "c");
  EXPECT_EQ(fired[1].end.millis(), 2 * kMin);
  EXPECT_EQ(fired[1].counts.events_by_kind[static_cast<size_t>(EventKind::kPostPublished)], 1u);

  // Drained again, the restored group stays count-only and the new one whole.
  DrainStrictly(reading, store);
  ChannelGrowth again;
  RestoreInto(again, store);
  again.RestoreWatermark(EventTime::FromMillis(2 * kMin));
  EXPECT_EQ(again.open_windows(), reading.open_windows());
}

// A counted group's record is checked as strictly as a whole one's, and a
// key stored in both forms is corrupt: one group cannot be both.
TEST(ChannelWindowIndex, ACountedGroupRecordIsCheckedWhenRestored) {
  ChannelGrowth counting, whole;
  counting.CountOnly(0, true);
  for (ChannelGrowth* g : {&counting, &whole}) {
    g->Apply(0, Post(10'000, "a"), false);
    g->Apply(0, Post(20'000, "b"), false);
  }
  Store counted, stored;
  DrainStrictly(counting, counted);
  DrainStrictly(whole, stored);
  auto minute = [](const Store& s, char tag) {
    auto it = std::find_if(s.begin(), s.end(), [&](const auto& kv) { return kv.first[4] == tag; });
    EXPECT_NE(it, s.end());
    return *it;
  };
  const auto [key, value] = minute(counted, 0x09);
  EXPECT_TRUE(ChannelGrowth().Restore(key, value));
  std::string bad_flag = value;
  bad_flag.back() = 2;  // b's pending flag
  EXPECT_FALSE(ChannelGrowth().Restore(key, bad_flag));
  EXPECT_FALSE(ChannelGrowth().Restore(key, value + value)) << "ids out of order";
  EXPECT_FALSE(ChannelGrowth().Restore(key, "")) << "empty groups are never stored";

  ChannelGrowth both;
  EXPECT_TRUE(both.Restore(key, value));
  const auto [whole_key, whole_value] = minute(stored, 0x07);
  ASSERT_EQ(whole_key.substr(5), key.substr(5)) << "the same group";
  EXPECT_FALSE(both.Restore(whole_key, whole_value));
}

}  // namespace
}  // namespace chorus::ops
