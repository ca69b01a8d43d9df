// The chorus command line: run, demo, generate. Returns the process exit
// code: 0 success, 2 bad usage or configuration, 1 runtime failure.
#pragma once

namespace chorus {

int RunCli(int argc, char** argv);

}  // namespace chorus
