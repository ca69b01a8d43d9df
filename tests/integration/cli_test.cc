#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

int ExitCode(const std::string& args) {
  std::string cmd = std::string(CHORUS_BINARY) + " " + args + " >/dev/null 2>&1";
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Cli, UnknownSubcommandIsBadUsage) { EXPECT_EQ(ExitCode("no-such-command"), 2); }

}  // namespace
