// The shipped alert rules end to end with the real Prometheus from Debian:
// `chorus run` consumes a live stream from the mock cluster, Prometheus
// scrapes it every second and evaluates deploy/prometheus's rules with
// their time scales shrunk (an hour becomes seconds, a week tens of
// seconds), and an engagement drop injected into the stream must show up as
// a firing ChorusEngagementDropWeekOverWeek, with no engagement alert before,
// and reach a webhook through the real Alertmanager.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "chorus/v1/engagement.pb.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

// A webhook receiver on loopback: keeps the body of every POST it gets.
class Webhook {
 public:
  Webhook() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 8);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Webhook() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::string Received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void Serve() {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;  // closed
      std::string request;
      char buf[4096];
      // Headers, then as many body bytes as Content-Length says.
      size_t need = std::string::npos;
      while (need == std::string::npos || request.size() < need) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
        size_t end = request.find("\r\n\r\n");
        if (need == std::string::npos && end != std::string::npos) {
          std::smatch m;
          static const std::regex length_re("[Cc]ontent-[Ll]ength: *([0-9]+)");
          std::string head = request.substr(0, end);
          need = end + 4 + (std::regex_search(head, m, length_re) ? std::stoul(m[1]) : 0);
        }
      }
      const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!write(c, reply, sizeof reply - 1);
      close(c);
      std::lock_guard lock(mu_);
      received_ += request;
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string received_;
};

// The shipped rules with their time scales shrunk for a test: each duration
// in `scales` (as written in the rules) becomes the given test duration.
std::string AtTestScale(std::string rules) {
  const std::pair<const char*, const char*> scales[] = {
      {"[1h]", "[8s]"},
      {"[5m]", "[4s]"},
      {"[1d]", "[20s]"},
      {"[1w]", "[30s]"},
      {"offset 1w", "offset 20s"},
      {"offset 2w", "offset 40s"},
      {"offset 3w", "offset 60s"},
      {"offset 1d", "offset 20s"},
      {"interval: 1m", "interval: 1s"},
  };
  for (const auto& [from, to] : scales) {
    for (size_t at = rules.find(from); at != std::string::npos; at = rules.find(from, at)) {
      rules.replace(at, std::string(from).size(), to);
      at += std::string(to).size();
    }
  }
  // Every `for:` becomes two seconds.
  return std::regex_replace(rules, std::regex("for: [0-9]+[smh]"), "for: 2s");
}

// The engagement alerts firing or pending in Prometheus right now.
std::vector<std::string> EngagementAlerts(int port, bool firing_only) {
  std::vector<std::string> out;
  auto r = HttpGet(port, "/api/v1/alerts");
  if (!r || r->status != 200) return out;
  // Each alert's labels come first and its state after its annotations.
  const std::regex alert_re(
      R"re("alertname":"(ChorusEngagement[A-Za-z]+)"[\s\S]*?"state":"([a-z]+)")re");
  for (auto it = std::sregex_iterator(r->body.begin(), r->body.end(), alert_re);
       it != std::sregex_iterator(); ++it) {
    if (!firing_only || (*it)[2] == "firing") out.push_back((*it)[1]);
  }
  return out;
}

TEST(AlertingE2E, AnInjectedDropFiresThroughARealPrometheus) {
  TempDir dir;
  MockCluster cluster(1);
  cluster.CreateTopic("live", 2);
  cluster.CreateTopic("live-dlq", 1);

  // A live stream: reactions to two channels at a steady pace, event time
  // = now; `drop` cuts twitter:a to a tenth.
  std::atomic<bool> stop{false}, drop{false};
  std::thread producer([&] {
    uint64_t n = 0;
    while (!stop) {
      for (int i = 0; i < 20; ++i, ++n) {
        bool a = n % 2 == 0;
        if (a && drop && n % 20 != 0) continue;
        v1::EngagementEvent e;
        e.set_event_id("live-" + std::to_string(n));
        auto now = std::chrono::system_clock::now().time_since_epoch();
        e.mutable_occurred_at()->set_seconds(
            std::chrono::duration_cast<std::chrono::seconds>(now).count());
        e.set_channel_id(a ? "twitter:a" : "twitter:b");
        e.set_platform(v1::PLATFORM_TWITTER);
        e.set_kind(v1::EVENT_KIND_REACTION);
        e.set_actor_role(v1::ACTOR_ROLE_MEMBER);
        e.set_content_type(v1::CONTENT_TYPE_TEXT);
        std::string member = "m-" + std::to_string(n % 50);
        e.set_member_id(member);
        cluster.Produce("live", -1, member, e.SerializeAsString());
      }
      cluster.Flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // ~400 events/s
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      t.join();
    }
  } join{stop, producer};

  auto chorus = StartChorusRun(CHORUS_BINARY, cluster.bootstrap_servers(), "live", dir.Sub("state"),
                               dir.Sub("chorus.log"));
  const int chorus_port = WaitForHttpPort(*chorus, std::chrono::seconds(60));
  ASSERT_NE(chorus_port, 0) << chorus->Log();

  const std::string rules_dir = std::string(CHORUS_SOURCE_DIR) + "/deploy/prometheus/";
  for (const char* file : {"chorus-recording-rules.yml", "chorus-alert-rules.yml"}) {
    std::ofstream(dir.Sub(file)) << AtTestScale(ReadFile(rules_dir + file));
  }
  // Alertmanager routes everything to the webhook at once.
  Webhook webhook;
  std::ofstream(dir.Sub("alertmanager.yml"))
      << "route:\n  receiver: hook\n  group_wait: 1s\n  group_interval: 1s\n"
      << "  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n"
      << "      - url: http://127.0.0.1:" << webhook.port() << "/alerts\n";
  const int am_port = FreeLoopbackPort();
  ChildProcess alertmanager(
      "/usr/bin/prometheus-alertmanager",
      {"--config.file=" + dir.Sub("alertmanager.yml"), "--storage.path=" + dir.Sub("am"),
       "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address="},
      dir.Sub("alertmanager.log"));
  std::ofstream(dir.Sub("prometheus.yml"))
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "alerting:\n  alertmanagers:\n    - static_configs:\n"
      << "        - targets: ['127.0.0.1:" << am_port << "']\n"
      << "rule_files: [chorus-recording-rules.yml, chorus-alert-rules.yml]\n"
      << "scrape_configs:\n  - job_name: chorus\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << chorus_port << "']\n";
  const int prom_port = FreeLoopbackPort();
  ChildProcess prometheus(
      "/usr/bin/prometheus",
      {"--config.file=" + dir.Sub("prometheus.yml"), "--storage.tsdb.path=" + dir.Sub("tsdb"),
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
      dir.Sub("prometheus.log"));
  ASSERT_TRUE(WaitFor([&] { return Answers200(prom_port, "/-/ready"); }, std::chrono::seconds(30)))
      << prometheus.Log();

  // Baseline: a week (20 s here) and more of steady traffic, during which
  // no engagement alert may even be pending.
  const auto baseline_end = std::chrono::steady_clock::now() + std::chrono::seconds(35);
  while (std::chrono::steady_clock::now() < baseline_end) {
    EXPECT_EQ(EngagementAlerts(prom_port, false), std::vector<std::string>{})
        << "an engagement alert before the drop";
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  auto up = HttpGet(prom_port, "/api/v1/query?query=up%7Bjob%3D%22chorus%22%7D");
  ASSERT_TRUE(up);
  EXPECT_NE(up->body.find("\"1\"]"), std::string::npos) << "chorus scraped: " << up->body;

  drop = true;
  std::vector<std::string> firing;
  bool fired = WaitFor(
      [&] {
        firing = EngagementAlerts(prom_port, true);
        return std::find(firing.begin(), firing.end(), "ChorusEngagementDropWeekOverWeek") !=
               firing.end();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(500));
  auto alerts = HttpGet(prom_port, "/api/v1/alerts");
  auto now_rate =
      HttpGet(prom_port, "/api/v1/query?query=channel:chorus_channel_engagements:rate1h");
  auto before = HttpGet(
      prom_port, "/api/v1/query?query=channel:chorus_channel_engagements:rate1h%20offset%2020s");
  auto raw = HttpGet(prom_port, "/api/v1/query?query=chorus_channel_engagements_total");
  EXPECT_TRUE(fired) << (alerts ? alerts->body : "") << "\nnow " << (now_rate ? now_rate->body : "")
                     << "\nbefore " << (before ? before->body : "") << "\nraw "
                     << (raw ? raw->body : "") << "\n"
                     << prometheus.Log();
  ASSERT_TRUE(alerts);
  EXPECT_NE(alerts->body.find("\"channel\":\"twitter:a\""), std::string::npos) << alerts->body;
  EXPECT_EQ(alerts->body.find("\"channel\":\"twitter:b\""), std::string::npos)
      << "the steady channel stays quiet: " << alerts->body;

  // Prometheus hands the alert to Alertmanager, which posts it to the webhook.
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string got = webhook.Received();
        return got.find("ChorusEngagementDropWeekOverWeek") != std::string::npos &&
               got.find("twitter:a") != std::string::npos;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(250)))
      << "webhook got: " << webhook.Received() << "\n"
      << alertmanager.Log();
  EXPECT_EQ(webhook.Received().find("twitter:b"), std::string::npos) << webhook.Received();
}

}  // namespace
}  // namespace chorus::testing
