#include "chorus/operators/watermark.h"

#include <gtest/gtest.h>

namespace chorus::ops {
namespace {

constexpr int64_t kMin = 60'000;  // one minute in ms

EventTime Ev(int64_t ms) { return EventTime::FromMillis(ms); }
ProcessingTime Wall(int64_t ms) { return ProcessingTime::FromMillis(ms); }

// Five minutes of out-of-orderness, 30 s idle timeout.
WatermarkTracker Tracker() { return WatermarkTracker(WatermarkOptions{}); }

TEST(Watermark, DefaultsAreFiveMinutesAndThirtySeconds) {
  WatermarkOptions o;
  EXPECT_EQ(o.out_of_orderness, std::chrono::minutes(5));
  EXPECT_EQ(o.idle_timeout, std::chrono::seconds(30));
}

TEST(Watermark, StartsAtMinWithNoPartitions) {
  WatermarkTracker w = Tracker();
  EXPECT_EQ(w.Advance(Wall(0)), EventTime::Min());
  EXPECT_EQ(w.current(), EventTime::Min());
  EXPECT_EQ(w.max_seen(3), EventTime::Min());
}

TEST(Watermark, TrailsTheMaxEventTimeByTheOutOfOrderness) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(95 * kMin));
  // An out-of-order event does not pull the maximum back.
  w.Observe(0, Ev(97 * kMin), Wall(1));
  EXPECT_EQ(w.Advance(Wall(1)), Ev(95 * kMin));
  EXPECT_EQ(w.max_seen(0), Ev(100 * kMin));
}

TEST(Watermark, IsTheMinimumOverActivePartitions) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  w.Observe(1, Ev(50 * kMin), Wall(0));
  w.Observe(2, Ev(70 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(45 * kMin));
}

TEST(Watermark, IdlePartitionStopsHoldingBackAfterTheIdleTimeout) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  w.Observe(1, Ev(50 * kMin), Wall(0));
  w.Observe(0, Ev(110 * kMin), Wall(10'000));
  EXPECT_EQ(w.Advance(Wall(29'999)), Ev(45 * kMin)) << "partition 1 idle for 29.999 s";
  EXPECT_EQ(w.Advance(Wall(30'000)), Ev(105 * kMin)) << "partition 1 idle for 30 s";
}

TEST(Watermark, IdlePartitionHoldsBackAgainWithItsNextEventButNeverDecreases) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  w.Observe(1, Ev(50 * kMin), Wall(0));
  w.Observe(0, Ev(110 * kMin), Wall(10'000));
  ASSERT_EQ(w.Advance(Wall(30'000)), Ev(105 * kMin));
  w.Observe(1, Ev(60 * kMin), Wall(31'000));
  EXPECT_EQ(w.Advance(Wall(31'000)), Ev(105 * kMin));
  // Partition 1 catches up past partition 0: now it is the maximum that
  // counts, and partition 0 (idle since 10 s) no longer holds back at 40 s.
  w.Observe(1, Ev(200 * kMin), Wall(39'000));
  EXPECT_EQ(w.Advance(Wall(39'999)), Ev(105 * kMin));
  EXPECT_EQ(w.Advance(Wall(40'000)), Ev(195 * kMin));
}

TEST(Watermark, NewPartitionWithoutEventsHoldsBackUntilItsIdleTimeout) {
  WatermarkTracker w = Tracker();
  w.AddPartition(0, EventTime::Min(), Wall(0));
  w.Observe(1, Ev(100 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), EventTime::Min());
  w.Observe(1, Ev(101 * kMin), Wall(20'000));
  EXPECT_EQ(w.Advance(Wall(29'999)), EventTime::Min());
  EXPECT_EQ(w.Advance(Wall(30'000)), Ev(96 * kMin));
}

TEST(Watermark, AddPartitionUsesTheRestoredMaximumAndKeepsTheLargerOnReAdd) {
  WatermarkTracker w = Tracker();
  w.AddPartition(2, Ev(100 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(95 * kMin));
  w.AddPartition(2, Ev(50 * kMin), Wall(1'000));
  EXPECT_EQ(w.max_seen(2), Ev(100 * kMin));
  w.AddPartition(2, Ev(120 * kMin), Wall(2'000));
  EXPECT_EQ(w.max_seen(2), Ev(120 * kMin));
  EXPECT_EQ(w.Advance(Wall(2'000)), Ev(115 * kMin));
}

TEST(Watermark, WhenAllPartitionsAreIdleItIsTheLargestCandidate) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  w.Observe(1, Ev(50 * kMin), Wall(5'000));
  w.AddPartition(2, EventTime::Min(), Wall(0));
  EXPECT_EQ(w.Advance(Wall(34'999)), Ev(45 * kMin)) << "partition 1 still active";
  EXPECT_EQ(w.Advance(Wall(35'000)), Ev(95 * kMin));
}

TEST(Watermark, AllIdleWithoutAnyEventStaysAtMin) {
  WatermarkTracker w = Tracker();
  w.AddPartition(0, EventTime::Min(), Wall(0));
  EXPECT_EQ(w.Advance(Wall(60'000)), EventTime::Min());
}

TEST(Watermark, RemovedPartitionNoLongerHoldsBack) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  w.Observe(1, Ev(50 * kMin), Wall(0));
  ASSERT_EQ(w.Advance(Wall(0)), Ev(45 * kMin));
  w.RemovePartition(1);
  EXPECT_EQ(w.Advance(Wall(0)), Ev(95 * kMin));
  EXPECT_EQ(w.max_seen(1), EventTime::Min());
}

TEST(Watermark, NeverDecreasesWhenASlowerPartitionAppears) {
  WatermarkTracker w = Tracker();
  w.Observe(0, Ev(100 * kMin), Wall(0));
  ASSERT_EQ(w.Advance(Wall(0)), Ev(95 * kMin));
  w.Observe(1, Ev(10 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(95 * kMin));
  w.AddPartition(2, EventTime::Min(), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(95 * kMin));
  EXPECT_EQ(w.current(), Ev(95 * kMin));
}

TEST(Watermark, RestoreSetsAFloor) {
  WatermarkTracker w = Tracker();
  w.Restore(Ev(200 * kMin));
  EXPECT_EQ(w.current(), Ev(200 * kMin));
  w.Observe(0, Ev(100 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(200 * kMin));
  w.Restore(Ev(150 * kMin));
  EXPECT_EQ(w.current(), Ev(200 * kMin));
  w.Observe(0, Ev(300 * kMin), Wall(1));
  EXPECT_EQ(w.Advance(Wall(1)), Ev(295 * kMin));
}

TEST(Watermark, EventsNearTheMinimumTimeDoNotWrapAround) {
  WatermarkTracker w = Tracker();
  w.Observe(0, EventTime::Min() + Millis(1), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), EventTime::Min());
}

TEST(Watermark, CustomOptions) {
  WatermarkTracker w(WatermarkOptions{Millis(0), Millis(1'000)});
  w.Observe(0, Ev(-5 * kMin), Wall(0));
  w.Observe(1, Ev(-7 * kMin), Wall(500));
  EXPECT_EQ(w.Advance(Wall(999)), Ev(-7 * kMin));
  EXPECT_EQ(w.Advance(Wall(1'000)), Ev(-7 * kMin)) << "partition 1 still active";
  EXPECT_EQ(w.Advance(Wall(1'500)), Ev(-5 * kMin)) << "all idle: the largest";
}

TEST(Watermark, ObserveSaysWhenOnlyTheHoldingPartitionMoved) {
  WatermarkTracker w = Tracker();
  w.AddPartition(0, EventTime::Min(), Wall(0));
  w.AddPartition(1, EventTime::Min(), Wall(0));
  EXPECT_TRUE(w.Observe(0, Ev(10 * kMin), Wall(0))) << "before any Advance, any rise may matter";
  w.Observe(1, Ev(20 * kMin), Wall(0));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(5 * kMin));  // held by partition 0
  EXPECT_FALSE(w.Observe(1, Ev(30 * kMin), Wall(0))) << "partition 1 does not hold it";
  EXPECT_FALSE(w.Observe(0, Ev(9 * kMin), Wall(0))) << "not a new maximum";
  EXPECT_TRUE(w.Observe(0, Ev(40 * kMin), Wall(0)));
  EXPECT_EQ(w.Advance(Wall(0)), Ev(25 * kMin));  // now held by partition 1
  EXPECT_TRUE(w.Observe(1, Ev(50 * kMin), Wall(0)));
}

// Advancing only when Observe says so gives the same watermark after every
// event as advancing after every event.
TEST(Watermark, AdvancingOnObserveMatchesAdvancingAlways) {
  WatermarkTracker lazy = Tracker(), eager = Tracker();
  uint64_t x = 12345;
  for (int i = 0; i < 5000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int32_t p = static_cast<int32_t>((x >> 33) % 5);
    EventTime t = Ev(static_cast<int64_t>(i) * 1000 - static_cast<int64_t>((x >> 20) % 90'000));
    if (lazy.Observe(p, t, Wall(0))) lazy.Advance(Wall(0));
    eager.Observe(p, t, Wall(0));
    ASSERT_EQ(lazy.current(), eager.Advance(Wall(0))) << "event " << i;
  }
}

}  // namespace
}  // namespace chorus::ops
