// Named crash points on every durability step, for crash tests.
//
// When the environment variable CHORUS_CRASH_AT names a point (optionally
// "name:N" for its Nth hit, default the first), the process ends there with
// _exit(137), as abruptly as a SIGKILL: no destructor, flush or close runs.
//
// CHORUS_STALL_AT takes the same form and holds the calling thread at that
// point instead, until ReleaseCrashPointStall() (the SIGINT/SIGTERM handler
// calls it) or 30 seconds pass. Shutdown tests use it to deliver a signal
// while a commit is provably half done, with no sleep-and-hope timing.
//
// Without the variables a crash point costs one branch on a cached flag.
#pragma once

#include <string_view>

namespace chorus {

void CrashPoint(std::string_view name);

// Async-signal-safe: one atomic store.
void ReleaseCrashPointStall();

}  // namespace chorus
