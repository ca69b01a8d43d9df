#include "chorus/operators/windows.h"

#include <gtest/gtest.h>

namespace chorus::ops {
namespace {

EventTime At(int64_t ms) { return EventTime::FromMillis(ms); }

TEST(WindowStart, AlignsToMultiplesOfTheSizeSinceTheEpoch) {
  EXPECT_EQ(WindowStart(At(0), kMinute), At(0));
  EXPECT_EQ(WindowStart(At(59'999), kMinute), At(0));
  EXPECT_EQ(WindowStart(At(60'000), kMinute), At(60'000));
  EXPECT_EQ(WindowStart(At(7'200'005), kHour), At(7'200'000));
  // 2024-03-10T13:45:00Z lies in the UTC day starting 2024-03-10T00:00:00Z.
  EXPECT_EQ(WindowStart(At(1'710'078'300'000), kDay), At(1'710'028'800'000));
}

TEST(WindowStart, FloorsTimesBeforeTheEpoch) {
  EXPECT_EQ(WindowStart(At(-1), kMinute), At(-60'000));
  EXPECT_EQ(WindowStart(At(-60'000), kMinute), At(-60'000));
  EXPECT_EQ(WindowStart(At(-60'001), kMinute), At(-120'000));
  EXPECT_EQ(WindowStart(At(-1), kDay), At(-86'400'000));
}

TEST(WindowSpecs, AreTheDefaultSizesInAscendingOrder) {
  ASSERT_EQ(kWindowSpecCount, 3);
  EXPECT_EQ(kWindowSpecs[0].size, kMinute);
  EXPECT_EQ(kWindowSpecs[0].name, "1m");
  EXPECT_EQ(kWindowSpecs[1].size, kHour);
  EXPECT_EQ(kWindowSpecs[1].name, "1h");
  EXPECT_EQ(kWindowSpecs[2].size, kDay);
  EXPECT_EQ(kWindowSpecs[2].name, "1d");
  EXPECT_EQ(WindowOptions{}.allowed_lateness, kHour);
}

TEST(IsLate, OnlyStrictlyBeforeWatermarkMinusLateness) {
  const EventTime w = At(10 * kHour.count());
  EXPECT_FALSE(IsLate(At(9 * kHour.count()), w, kHour));
  EXPECT_TRUE(IsLate(At(9 * kHour.count() - 1), w, kHour));
  EXPECT_FALSE(IsLate(At(11 * kHour.count()), w, kHour));
}

TEST(IsLate, NothingIsLateBeforeTheFirstWatermark) {
  EXPECT_FALSE(IsLate(At(-1'000'000'000), EventTime::Min(), kHour));
}

TEST(HasFired, OnceTheWatermarkReachesTheEnd) {
  const EventTime end = At(120'000);
  EXPECT_FALSE(HasFired(end, At(119'999)));
  EXPECT_TRUE(HasFired(end, At(120'000)));
  EXPECT_FALSE(HasFired(end, EventTime::Min()));
}

TEST(IsClosed, AtEndPlusLateness) {
  const EventTime end = At(120'000);
  EXPECT_FALSE(IsClosed(end, At(120'000 + 3'600'000 - 1), kHour));
  EXPECT_TRUE(IsClosed(end, At(120'000 + 3'600'000), kHour));
  EXPECT_FALSE(IsClosed(end, EventTime::Min(), kHour));
  // Zero lateness: closed as soon as it fires.
  EXPECT_TRUE(IsClosed(end, end, Millis(0)));
}

TEST(Windows, AnEventThatIsNotLateFindsAllItsWindowsOpen) {
  const EventTime w = At(5 * kDay.count() + 123'456);
  // The earliest time that is not late, and its neighbours.
  for (int64_t t : {w.millis() - kHour.count(), w.millis() - kHour.count() + 1, w.millis()}) {
    ASSERT_FALSE(IsLate(At(t), w, kHour));
    for (const WindowSpec& spec : kWindowSpecs) {
      EventTime end = WindowStart(At(t), spec.size) + spec.size;
      EXPECT_FALSE(IsClosed(end, w, kHour)) << spec.name << " t=" << t;
    }
  }
}

}  // namespace
}  // namespace chorus::ops
