// Runs the real chorus binary as a child process for integration tests:
// start it with arguments and environment, read its stderr, signal it, and
// wait for it with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace chorus::testing {

class ChildProcess {
 public:
  // Starts `binary` with `args`; `env` entries ("K=V") are added to ours.
  // stdout and stderr go to `log_path`.
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& log_path, const std::vector<std::string>& env = {});
  ~ChildProcess();  // SIGKILLs the child if it is still running

  pid_t pid() const { return pid_; }
  void Kill(int signal);
  // The exit status as from waitpid, or nullopt if it did not exit in time.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

// `chorus run` (`binary`) on `topic` of the cluster at `brokers`, dead
// letters to `topic`-dlq, as the scripted integration tests run it: state in
// `state_dir`, any free HTTP port, commits every 200 ms, and idle partitions
// let go after 1 s, so the watermark soon reaches the newest event of a
// finite topic (less the out-of-orderness). `extra` flags come last.
std::unique_ptr<ChildProcess> StartChorusRun(const std::string& binary, const std::string& brokers,
                                             const std::string& topic, const std::string& state_dir,
                                             const std::string& log_path,
                                             const std::vector<std::string>& extra = {});

// The HTTP port a `chorus run` child logged ("http port N": it was asked
// for port 0), waiting up to `timeout`; 0 if it exited or never said.
int WaitForHttpPort(ChildProcess& p, std::chrono::milliseconds timeout);
// The same for any log line: the first group of `port_re` is the port.
int WaitForLoggedPort(ChildProcess& p, const std::regex& port_re,
                      std::chrono::milliseconds timeout);

// Polls `condition` until it is true or `timeout` passes; true if it held.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval = std::chrono::milliseconds(50));

}  // namespace chorus::testing
