#include "chorus/operators/timer_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <tuple>
#include <vector>

namespace chorus::ops {
namespace {

struct Timer {
  int64_t due_ms;
  uint64_t id;
  bool operator>(const Timer& o) const { return std::tie(due_ms, id) > std::tie(o.due_ms, o.id); }
  bool operator==(const Timer&) const = default;
};

TEST(TimerQueue, PopsInDueOrderAcrossSpans) {
  TimerQueue<Timer> q;
  EXPECT_TRUE(q.empty());
  // Three spans of 2^16 ms, pushed latest first, and ties on time.
  for (Timer t : {Timer{200'000, 1}, Timer{70'000, 2}, Timer{-5, 3}, Timer{70'000, 1}, Timer{0, 4},
                  Timer{65'535, 5}}) {
    q.push(t);
  }
  EXPECT_EQ(q.size(), 6u);
  std::vector<Timer> out;
  for (; !q.empty(); q.pop()) out.push_back(q.top());
  EXPECT_EQ(out, (std::vector<Timer>{
                     {-5, 3}, {0, 4}, {65'535, 5}, {70'000, 1}, {70'000, 2}, {200'000, 1}}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueue, PopDueTakesEveryTimerUpToAndAtItsBound) {
  TimerQueue<Timer> q;
  for (Timer t : {Timer{100, 2}, Timer{70'000, 1}, Timer{100, 1}, Timer{99, 7}, Timer{101, 1}}) {
    q.push(t);
  }
  std::vector<Timer> due = {Timer{0, 0}};
  q.PopDue(100, due);
  EXPECT_EQ(due, (std::vector<Timer>{{99, 7}, {100, 1}, {100, 2}}));
  q.PopDue(100, due);
  EXPECT_TRUE(due.empty());
  q.PopDue(80'000, due);
  EXPECT_EQ(due, (std::vector<Timer>{{101, 1}, {70'000, 1}}));
  EXPECT_TRUE(q.empty());
}

// Every due timer is handled once, in pop order, after being loaded once,
// and loaded at most kLookAhead timers before its turn; a timer handling
// pushes (due later) waits for the next call.
TEST(TimerQueue, ForEachDueLoadsAheadAndHandlesInOrder) {
  using Q = TimerQueue<Timer>;
  Q q;
  for (uint64_t i = 0; i < 20; ++i) q.push(Timer{static_cast<int64_t>(i % 5), i});
  q.push(Timer{1'000, 99});
  std::vector<Timer> buffer;
  std::vector<uint64_t> loaded, handled;
  std::vector<size_t> load_gap;  // how many handled before each load
  q.ForEachDue(
      10, buffer,
      [&](const Timer& t) {
        loaded.push_back(t.id);
        load_gap.push_back(handled.size());
      },
      [&](const Timer& t) {
        ASSERT_EQ(loaded.size(), std::min<size_t>(handled.size() + Q::kLookAhead + 1, 20))
            << "loaded before its turn, and no further ahead than kLookAhead";
        handled.push_back(t.id);
        q.push(Timer{11 + t.due_ms, 100 + t.id});  // after the bound
      });
  EXPECT_EQ(handled.size(), 20u);
  EXPECT_EQ(loaded, handled);
  for (size_t i = 1; i < handled.size(); ++i) {
    const Timer a{static_cast<int64_t>(handled[i - 1] % 5), handled[i - 1]};
    const Timer b{static_cast<int64_t>(handled[i] % 5), handled[i]};
    EXPECT_TRUE(b > a) << i;
  }
  EXPECT_EQ(q.size(), 21u);  // the one at 1,000 and the 20 pushed
  EXPECT_EQ(q.top(), (Timer{11, 100}));
}

// With a second step: each timer is loaded, then load_next-ed, then handled,
// once each; the second step at most kNextAhead timers before its turn,
// and always after the first.
TEST(TimerQueue, ForEachDueTakesTheSecondStepBetweenLoadAndHandle) {
  using Q = TimerQueue<Timer>;
  Q q;
  for (uint64_t i = 0; i < 20; ++i) q.push(Timer{static_cast<int64_t>(i), i});
  std::vector<Timer> buffer;
  std::vector<uint64_t> loaded, next, handled;
  q.ForEachDue(
      100, buffer, [&](const Timer& t) { loaded.push_back(t.id); },
      [&](const Timer& t) {
        ASSERT_LT(next.size(), loaded.size()) << "the second step after the first";
        EXPECT_EQ(loaded[next.size()], t.id);
        next.push_back(t.id);
      },
      [&](const Timer& t) {
        ASSERT_EQ(next.size(), std::min<size_t>(handled.size() + Q::kNextAhead + 1, 20))
            << "the second step before its turn, and no further ahead than kNextAhead";
        handled.push_back(t.id);
      });
  EXPECT_EQ(handled.size(), 20u);
  EXPECT_EQ(next, handled);
  EXPECT_EQ(loaded, handled);
}

// Pushes and pops interleaved as the operators make them: timers mostly a
// little after a watermark that advances, some far ahead, some before
// what was already popped, some at the same time; each pop up to the
// watermark must give what one binary heap gives, in the same order.
TEST(TimerQueue, AgreesWithOneHeap) {
  std::mt19937_64 rng(7);
  TimerQueue<Timer> q;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> heap;
  int64_t watermark = -1'000'000;
  uint64_t id = 0;
  size_t popped = 0;
  for (int round = 0; round < 20'000; ++round) {
    for (int n = static_cast<int>(rng() % 8); n > 0; --n) {
      int64_t due = 0;
      switch (rng() % 4) {
        case 0:
          due = watermark + static_cast<int64_t>(rng() % 10'000);
          break;
        case 1:
          due = watermark + static_cast<int64_t>(rng() % 10'000'000);
          break;
        case 2:
          due = watermark - static_cast<int64_t>(rng() % 200'000);
          break;
        default:
          due = watermark + 1'000 * static_cast<int64_t>(rng() % 3);
          break;
      }
      Timer t{due, id++ % 5};
      q.push(t);
      heap.push(t);
    }
    watermark += static_cast<int64_t>(rng() % 40'000);
    std::vector<Timer> expected;
    for (; !heap.empty() && heap.top().due_ms <= watermark; heap.pop()) {
      expected.push_back(heap.top());
    }
    // Popped one by one, or all due at once (into a vector with leftovers).
    std::vector<Timer> got = {Timer{-1, 99}};
    if (round % 2 == 0) {
      got.clear();
      for (; !q.empty() && q.top().due_ms <= watermark; q.pop()) got.push_back(q.top());
    } else {
      q.PopDue(watermark, got);
    }
    ASSERT_EQ(got, expected) << "round " << round;
    popped += got.size();
    ASSERT_EQ(q.size(), heap.size());
    ASSERT_EQ(q.empty(), heap.empty());
    if (!heap.empty()) {
      ASSERT_EQ(q.top(), heap.top());
    }
  }
  EXPECT_GT(popped, 30'000u);
}

}  // namespace
}  // namespace chorus::ops
