#include "chorus/pipeline/dlq_reason.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chorus {
namespace {

TEST(DlqReason, NamesAreDistinctSnakeCase) {
  std::set<std::string> seen;
  for (int i = 0; i < kDlqReasonCount; ++i) {
    std::string name(Name(static_cast<DlqReason>(i)));
    EXPECT_NE(name, "unknown");
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate reason " << name;
  }
  EXPECT_EQ(Name(DlqReason::kLate), "late");
}

}  // namespace
}  // namespace chorus
