#include "chorus/pipeline/clock.h"

#include <atomic>
#include <chrono>

namespace chorus {
namespace {

class WallClock final : public Clock {
 public:
  ops::ProcessingTime Now() override {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    // A wall-clock step backwards (NTP) must not make idle timers run backwards.
    int64_t prev = last_.load(std::memory_order_relaxed);
    while (now > prev && !last_.compare_exchange_weak(prev, now)) {
    }
    return ops::ProcessingTime::FromMillis(now > prev ? now : prev);
  }

 private:
  std::atomic<int64_t> last_{0};
};

}  // namespace

Clock& SystemClock() {
  static WallClock clock;
  return clock;
}

}  // namespace chorus
