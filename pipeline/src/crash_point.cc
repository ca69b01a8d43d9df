#include "chorus/pipeline/crash_point.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

namespace chorus {
namespace {

constexpr const char* kCrashVar = "CHORUS_CRASH_AT";
constexpr const char* kStallVar = "CHORUS_STALL_AT";
constexpr int kCrashExitCode = 137;  // what a shell reports for SIGKILL
constexpr auto kStallLimit = std::chrono::seconds(30);

// The parsed variables. Immutable once published, apart from the hit
// counters; published objects are never freed, so a pointer loaded by one
// thread stays valid whatever another thread does.
struct CrashTarget {
  std::string name;
  uint64_t nth = 1;
  std::atomic<uint64_t> hits{0};
};

struct Targets {
  CrashTarget* crash = nullptr;  // nullptr: unset
  CrashTarget* stall = nullptr;
};

// The sentinel for "both variables unset": comparing against it is the one
// branch a crash point costs in production.
Targets g_disarmed;

// nullptr until the first crash point of this process reads the variables.
std::atomic<Targets*> g_targets{nullptr};

std::atomic<bool> g_stall_released{false};

void WriteStderr(const std::string& line) {
  // write(2) rather than iostreams: nothing buffered may be left behind by
  // _exit, and the message must appear even if the process is mid-crash.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

// A misspelt spec would silently never fire and make a crash test pass for
// the wrong reason, so it aborts loudly instead.
[[noreturn]] void BadSpec(const char* var, const std::string& spec) {
  WriteStderr(std::string(var) + "=\"" + spec + "\": expected NAME or NAME:N with N >= 1\n");
  std::abort();
}

CrashTarget* Parse(const char* var) {
  const char* env = std::getenv(var);
  if (env == nullptr || *env == '\0') return nullptr;
  std::string spec(env);
  auto* target = new CrashTarget;
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) {
    target->name = spec;
  } else {
    target->name = spec.substr(0, colon);
    const char* first = spec.data() + colon + 1;
    const char* last = spec.data() + spec.size();
    auto [end, ec] = std::from_chars(first, last, target->nth);
    if (ec != std::errc() || end != last || first == last || target->nth == 0) BadSpec(var, spec);
  }
  if (target->name.empty()) BadSpec(var, spec);
  return target;
}

// A forked child is a new process: it reads the variables afresh (its parent
// may have set them just for the child) and counts its own hits from zero.
// The previous targets are leaked on purpose; see CrashTarget.
void ResetInChild() {
  g_targets.store(nullptr, std::memory_order_relaxed);
  g_stall_released.store(false, std::memory_order_relaxed);
}

Targets* LoadTargets() {
  static const int registered = pthread_atfork(nullptr, nullptr, &ResetInChild);
  (void)registered;
  Targets parsed{Parse(kCrashVar), Parse(kStallVar)};
  Targets* fresh = &g_disarmed;
  if (parsed.crash != nullptr || parsed.stall != nullptr) fresh = new Targets(parsed);
  Targets* expected = nullptr;
  if (g_targets.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) return fresh;
  // Another thread published first; both parsed the same variables.
  if (fresh != &g_disarmed) {
    delete parsed.crash;
    delete parsed.stall;
    delete fresh;
  }
  return expected;
}

bool Hit(CrashTarget* target, std::string_view name) {
  if (target == nullptr || name != target->name) return false;
  return target->hits.fetch_add(1, std::memory_order_relaxed) + 1 == target->nth;
}

void Stall(const CrashTarget& target) {
  WriteStderr("chorus: stalled at crash point " + target.name + " hit " +
              std::to_string(target.nth) + "\n");
  auto deadline = std::chrono::steady_clock::now() + kStallLimit;
  while (!g_stall_released.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  WriteStderr("chorus: released from crash point " + target.name + "\n");
}

}  // namespace

void CrashPoint(std::string_view name) {
  Targets* targets = g_targets.load(std::memory_order_acquire);
  if (targets == &g_disarmed) return;
  if (targets == nullptr) {
    targets = LoadTargets();
    if (targets == &g_disarmed) return;
  }
  if (Hit(targets->stall, name)) Stall(*targets->stall);
  if (Hit(targets->crash, name)) {
    WriteStderr("chorus: crash point " + targets->crash->name + " hit " +
                std::to_string(targets->crash->nth) + " time(s), exiting with " +
                std::to_string(kCrashExitCode) + "\n");
    _exit(kCrashExitCode);
  }
}

void ReleaseCrashPointStall() { g_stall_released.store(true, std::memory_order_release); }

}  // namespace chorus
