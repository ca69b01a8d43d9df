#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace chorus::testing {

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& log_path, const std::vector<std::string>& env)
    : log_path_(log_path) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    Kill(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void ChildProcess::Kill(int signal) {
  if (pid_ > 0 && !status_) ::kill(pid_, signal);
}

bool ChildProcess::Running() {
  if (status_ || pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  return !status_;
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !Running(); }, timeout, std::chrono::milliseconds(10));
  return status_;
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::unique_ptr<ChildProcess> StartChorusRun(const std::string& binary, const std::string& brokers,
                                             const std::string& topic, const std::string& state_dir,
                                             const std::string& log_path,
                                             const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      "run",          "--brokers",         brokers,       "--topic",        topic,
      "--state-dir",  state_dir,           "--http-addr", "127.0.0.1:0",    "--dlq-topic",
      topic + "-dlq", "--commit-interval", "200ms",       "--idle-timeout", "1s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ChildProcess>(binary, args, log_path);
}

int WaitForHttpPort(ChildProcess& p, std::chrono::milliseconds timeout) {
  return WaitForLoggedPort(p, std::regex("http port (\\d+)"), timeout);
}

int WaitForLoggedPort(ChildProcess& p, const std::regex& port_re,
                      std::chrono::milliseconds timeout) {
  int port = 0;
  WaitFor(
      [&] {
        std::smatch m;
        const std::string log = p.Log();
        if (std::regex_search(log, m, port_re)) port = std::stoi(m[1]);
        return port != 0 || !p.Running();
      },
      timeout);
  return port;
}

}  // namespace chorus::testing
