// FaultProxy: a TCP proxy between Kafka clients and one broker that injects the faults a real network
// inflicts on a producer: lost acknowledgements, cut connections and slow responses.
//
// It listens on 127.0.0.1 (port 0 = any free port; port() is the real one) and opens one upstream
// connection to the broker for each client connection. Both directions are parsed as Kafka frames
// (INT32 size + payload). From each request it reads api_key, api_version and correlation_id (and, for
// Produce, acks: an acks=0 request gets no response, so no fault is planned for it). Responses are
// matched to their request by correlation_id. Faults are chosen per request, when the request passes,
// by a seeded RNG (same seed and same traffic => same choices), from the rule of its API key:
//
//   kDropResponse  The request is forwarded, the broker processes it and answers; the answer is
//                  swallowed. From then on the connection is a black hole: later requests are still
//                  forwarded (the broker acts on them), no response reaches the client, and after a
//                  delay drawn uniformly from [lost_ack_close_min, lost_ack_close_max] both sockets
//                  are closed. A client whose request timeout is shorter than that delay sees a
//                  timeout; otherwise it sees a disconnect with requests in flight. Either way it
//                  cannot know whether the broker stored what it sent: a lost ack.
//   kCut           The request is forwarded and the broker answers; at the moment the answer reaches
//                  the proxy, both sockets are closed at once and the answer is never relayed. The
//                  broker has therefore received and processed the request.
//   delay          Independently of the two above, a response may be held back for `delay`. Responses
//                  on one connection stay in order, so a held response also holds those behind it,
//                  as on a real slow link.
//
// Metadata responses are rewritten so that every broker advertised on the upstream port is advertised
// on the proxy's port instead (the host is left alone; proxy and broker both use 127.0.0.1). Without
// that, a client bootstrapped through the proxy would connect straight to the broker after its first
// Metadata call. FindCoordinator responses are rewritten the same way, so that a consumer group's
// coordinator traffic (JoinGroup, Heartbeat, OffsetCommit …) passes the proxy and its faults as well.
//
// Frames the proxy cannot parse (too short, negative or over 256 MiB) close that connection pair.
//
// Product code, not a test helper: `oncemq demo`, the chaos tests and the integration tests all drive it.
// It depends on sockets, threads and the wire decoder (src/protocol); the broker never links it.
//
// Threads: one accept thread plus one thread per client connection (plain sockets and poll). Every
// public method is thread-safe. Stop() (also run by the destructor) closes every socket and joins
// every thread; it returns within about one poll interval.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace oncemq::chaos {

// What may happen to requests of one API key. Probabilities are per request, in [0, 1];
// drop_response + cut must not exceed 1.
struct FaultRule {
  double drop_response = 0;
  double cut = 0;
  double delay_probability = 0;
  std::chrono::milliseconds delay{0};
  // How long a connection stays a black hole after a dropped response before it is closed.
  std::chrono::milliseconds lost_ack_close_min{100};
  std::chrono::milliseconds lost_ack_close_max{100};
};

enum class FaultAction { kNone, kDropResponse, kCut };

// Counters since Start() (or the last ResetCounters()).
struct FaultCounters {
  int64_t connections = 0;           // client connections accepted
  int64_t upstream_failures = 0;     // client connections closed because the broker could not be reached
  int64_t requests = 0;              // requests forwarded
  int64_t responses_relayed = 0;     // responses delivered to clients
  int64_t responses_dropped = 0;     // kDropResponse faults, plus responses swallowed by the black hole
  int64_t lost_acks = 0;             // kDropResponse faults injected
  int64_t cuts = 0;                  // kCut faults injected
  int64_t delays = 0;                // responses held back
  int64_t metadata_rewrites = 0;     // Metadata responses whose broker port was rewritten
  int64_t coordinator_rewrites = 0;  // FindCoordinator responses whose coordinator port was rewritten
  std::map<int16_t, int64_t> requests_by_api;
  std::map<int16_t, int64_t> faults_by_api;  // lost_acks + cuts per API key

  int64_t faults() const { return lost_acks + cuts; }
  std::string ToString() const;
};

class FaultProxy {
 public:
  // Forwards to upstream_host:upstream_port (numeric IPv4). `seed` drives every random choice.
  FaultProxy(std::string upstream_host, uint16_t upstream_port, uint64_t seed);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Binds 127.0.0.1:0 and starts accepting. On failure returns false and sets *error.
  // REQUIRES: not started.
  [[nodiscard]] bool Start(std::string* error);
  // Closes the listener and every connection, joins every thread. Idempotent.
  void Stop();

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // New client connections go to this address (existing ones keep theirs).
  void SetUpstream(std::string host, uint16_t port);

  // Sets (or, with a default FaultRule, clears) the rule of one API key.
  void SetRule(int16_t api_key, const FaultRule& rule);
  void ClearRules();
  // The next response of `api_key` that the proxy could still relay gets `action`, whatever the rule says
  // (one-shot; several queue up). Taken when the response arrives, not when its request passes, so that
  // an armed fault is never spent on an answer a black hole swallows anyway, nor on a request whose answer
  // never comes (broker killed, client gone): a run that arms one of each gets one of each.
  void ArmOnce(int16_t api_key, FaultAction action);

  // Closes every current client connection now (as a network blip would); counted as cuts.
  void CutAll();

  FaultCounters Counters() const;

 private:
  class Connection;
  struct Planned {
    FaultAction action = FaultAction::kNone;
    std::chrono::milliseconds delay{0};
    std::chrono::milliseconds close_after{0};
  };

  void AcceptLoop();
  void ServeConnection(Connection* conn);
  void ReapFinished();
  Planned Plan(int16_t api_key);
  FaultAction TakeArmed(int16_t api_key);  // kNone when nothing is armed for api_key

  friend class Connection;

  mutable std::mutex mu_;
  std::string upstream_host_;                           // guarded by mu_
  uint16_t upstream_port_;                              // guarded by mu_
  std::mt19937_64 rng_;                                 // guarded by mu_
  std::map<int16_t, FaultRule> rules_;                  // guarded by mu_
  std::map<int16_t, std::deque<FaultAction>> armed_;    // guarded by mu_
  FaultCounters counters_;                              // guarded by mu_
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mu_
  uint64_t cut_all_generation_ = 0;                     // guarded by mu_

  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written once by Stop(); every poll watches the read end
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
};

}  // namespace oncemq::chaos
