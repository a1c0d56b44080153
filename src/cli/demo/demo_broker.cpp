#include "cli/demo/demo_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <sstream>
#include <thread>

namespace oncemq::cli::demo {

namespace {

constexpr auto kReadyBound = std::chrono::seconds(30);

// One HTTP/1.0 GET of /metrics; the body, or an error.
Result<std::string> HttpGetMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::IoError("metrics: socket");
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string body;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[65536];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;)
        body.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  const size_t start = body.find("\r\n\r\n");
  if (start == std::string::npos) return Status::Unavailable("metrics: no answer");
  return body.substr(start + 4);
}

}  // namespace

int64_t SumMetric(const std::string& text, const std::string& metric) {
  int64_t sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(metric)) continue;
    const char next = line.size() > metric.size() ? line[metric.size()] : '\0';
    if (next != '{' && next != ' ') continue;  // another metric with this one's name as prefix
    const size_t space = line.rfind(' ');
    double value = 0;
    const auto [end, ec] = std::from_chars(line.data() + space + 1, line.data() + line.size(), value);
    if (ec == std::errc()) sum += static_cast<int64_t>(value);
  }
  return sum;
}

DemoBroker::DemoBroker(std::string dir, int64_t window_ms)
    : dir_(std::move(dir)), window_ms_(window_ms), port_(FreePort()), metrics_port_(FreePort()) {}

Status DemoBroker::Start() {
  Status s = StartOnce();
  for (int tries = 1; !s.ok() && !started_once_ && tries < 5; ++tries) {
    port_ = FreePort();
    metrics_port_ = FreePort();
    s = StartOnce();
  }
  started_once_ = started_once_ || s.ok();
  return s;
}

Status DemoBroker::StartOnce() {
  const std::string ready = dir_ + "/broker.ready";
  std::filesystem::remove(ready);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"broker", "--data-dir", dir_ + "/broker", "--listen", address(),
                               "--ready-file", ready, "--dedup-window-ms", std::to_string(window_ms_),
                               "--partitions", "4", "--group-min-session-timeout-ms", "1000",
                               "--group-initial-rebalance-delay-ms", "0", "--metrics-listen",
                               "127.0.0.1:" + std::to_string(metrics_port_)},
      dir_ + "/broker.log");
  std::string error;
  if (!process_->Start(&error)) return Status::IoError("demo broker: " + error);
  const auto deadline = std::chrono::steady_clock::now() + kReadyBound;
  while (!std::filesystem::exists(ready)) {
    if (!process_->Running())
      return Status::IoError("demo broker exited at start; see " + dir_ + "/broker.log");
    if (std::chrono::steady_clock::now() > deadline)
      return Status::Unavailable("demo broker: not ready in 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

void DemoBroker::Kill() {
  if (process_ != nullptr) process_->Kill();
  finished_.sequence += current_.sequence;
  finished_.msg_id += current_.msg_id;
  current_ = {};
}

Status DemoBroker::Restart() {
  ++restarts_;
  return Start();
}

void DemoBroker::Stop() {
  (void)Scrape();
  if (process_ != nullptr) process_->Terminate(std::chrono::seconds(30));
  finished_.sequence += current_.sequence;
  finished_.msg_id += current_.msg_id;
  current_ = {};
}

Status DemoBroker::Scrape() {
  Result<std::string> text = HttpGetMetrics(metrics_port_);
  if (!text.ok()) return text.status();
  current_.sequence = SumMetric(*text, "oncemq_sequence_duplicate_records_total");
  current_.msg_id = SumMetric(*text, "oncemq_msgid_duplicates_dropped_total");
  return Status::Ok();
}

BrokerDuplicates DemoBroker::totals() const {
  return {finished_.sequence + current_.sequence, finished_.msg_id + current_.msg_id};
}

}  // namespace oncemq::cli::demo
