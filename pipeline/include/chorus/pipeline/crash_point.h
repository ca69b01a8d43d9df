// Named crash points on every durability step, for crash tests.
//
// When the environment variable CHORUS_CRASH_AT names a point (optionally
// "name:N" for its Nth hit, default the first), the process ends there with
// _exit(137), as abruptly as a SIGKILL: no destructor, flush or close runs.
// Without the variable a crash point costs one branch on a cached flag.
#pragma once

#include <string_view>

namespace chorus {

void CrashPoint(std::string_view name);

}  // namespace chorus
