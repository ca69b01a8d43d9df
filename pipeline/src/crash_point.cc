#include "chorus/pipeline/crash_point.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace chorus {
namespace {

constexpr const char* kEnvVar = "CHORUS_CRASH_AT";
constexpr int kCrashExitCode = 137;  // what a shell reports for SIGKILL

// The parsed CHORUS_CRASH_AT. Immutable once published, apart from the hit
// counter; published objects are never freed, so a pointer loaded by one
// thread stays valid whatever another thread does.
struct CrashTarget {
  std::string name;
  uint64_t nth = 1;
  std::atomic<uint64_t> hits{0};
};

// The sentinel for "variable unset": comparing against it is the one branch
// a crash point costs in production.
CrashTarget g_disarmed;

// nullptr until the first crash point of this process parses the variable.
std::atomic<CrashTarget*> g_target{nullptr};

void WriteStderr(const std::string& line) {
  // write(2) rather than iostreams: nothing buffered may be left behind by
  // _exit, and the message must appear even if the process is mid-crash.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

// A misspelt crash spec would silently never crash and make a crash test
// pass for the wrong reason, so it aborts loudly instead.
[[noreturn]] void BadSpec(const std::string& spec) {
  WriteStderr(std::string(kEnvVar) + "=\"" + spec + "\": expected NAME or NAME:N with N >= 1\n");
  std::abort();
}

CrashTarget* Parse(const char* env) {
  if (env == nullptr || *env == '\0') return &g_disarmed;
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
    if (ec != std::errc() || end != last || first == last || target->nth == 0) BadSpec(spec);
  }
  if (target->name.empty()) BadSpec(spec);
  return target;
}

// A forked child is a new process: it reads the variable afresh (its parent
// may have set it just for the child) and counts its own hits from zero.
// The previous target is leaked on purpose; see CrashTarget.
void ResetInChild() { g_target.store(nullptr, std::memory_order_relaxed); }

CrashTarget* LoadTarget() {
  static const int registered = pthread_atfork(nullptr, nullptr, &ResetInChild);
  (void)registered;
  CrashTarget* parsed = Parse(std::getenv(kEnvVar));
  CrashTarget* expected = nullptr;
  if (g_target.compare_exchange_strong(expected, parsed, std::memory_order_acq_rel)) {
    return parsed;
  }
  // Another thread published first; both parsed the same variable.
  if (parsed != &g_disarmed) delete parsed;
  return expected;
}

}  // namespace

void CrashPoint(std::string_view name) {
  CrashTarget* target = g_target.load(std::memory_order_acquire);
  if (target == &g_disarmed) return;
  if (target == nullptr) {
    target = LoadTarget();
    if (target == &g_disarmed) return;
  }
  if (name != target->name) return;
  uint64_t hit = target->hits.fetch_add(1, std::memory_order_relaxed) + 1;
  if (hit != target->nth) return;
  WriteStderr("chorus: crash point " + target->name + " hit " + std::to_string(hit) +
              " time(s), exiting with " + std::to_string(kCrashExitCode) + "\n");
  _exit(kCrashExitCode);
}

}  // namespace chorus
