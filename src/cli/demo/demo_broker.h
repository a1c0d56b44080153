// DemoBroker: the demo's own oncemq broker, a child process on fixed 127.0.0.1 ports (so that clients find
// it again after it was killed and restarted), with the message-id window on for every topic, and its
// Prometheus metrics read over HTTP so the report can say how many duplicates each broker layer removed.
// Thread safety: none; the orchestrating thread drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "cli/demo/child_process.h"
#include "oncemq/status.h"

namespace oncemq::cli::demo {

// Counters summed over every partition of one broker incarnation.
struct BrokerDuplicates {
  int64_t sequence =
      0;  // oncemq_sequence_duplicate_records_total: records of producer retries caught by sequence numbers
  int64_t msg_id = 0;  // oncemq_msgid_duplicates_dropped_total: re-sends caught by the msg-id window
};

class DemoBroker {
 public:
  // window_ms: the msg-id window of every topic (0 turns that layer off).
  DemoBroker(std::string dir, int64_t window_ms);

  // Starts it and waits until it accepts connections. The first start tries other ports if the chosen ones
  // were taken in the meantime; a restart keeps them, so that clients find the broker again.
  Status Start();
  void Kill();  // SIGKILL; the counters read last are kept
  Status Restart();
  void Stop();  // SIGTERM (clean shutdown)

  // Reads the metrics now; on success they become part of totals().
  Status Scrape();
  // Duplicates removed by every incarnation so far, as last read (a kill loses what followed the last read).
  BrokerDuplicates totals() const;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int restarts() const { return restarts_; }

 private:
  const std::string dir_;
  const int64_t window_ms_;
  Status StartOnce();

  int port_;
  int metrics_port_;
  bool started_once_ = false;
  std::unique_ptr<ChildProcess> process_;
  BrokerDuplicates finished_;  // incarnations that ended
  BrokerDuplicates current_;   // the running one, as last read
  int restarts_ = 0;
};

// The sum of every sample of `metric` in Prometheus text `text`.
int64_t SumMetric(const std::string& text, const std::string& metric);

}  // namespace oncemq::cli::demo
