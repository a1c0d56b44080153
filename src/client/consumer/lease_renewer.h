// LeaseRenewer: keeps the claims a consumer holds alive while their handlers wait or run.
//
// A consumer claims a whole poll batch at once, then runs the handlers one by one; without renewal the last
// claims of a long batch could expire and be taken over while still queued. Every lease/3 a thread of its
// own renews every held claim; a claim the store refuses (kFenced: taken over) is marked lost, and the
// consumer must not run its handler. Store errors are retried at the next tick (the lease has two more
// chances before it ends). Thread safety: all methods from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "oncemq/dedup_store.h"

namespace oncemq::client {

class LeaseRenewer {
 public:
  LeaseRenewer(DedupStore& store, std::string group, std::chrono::milliseconds lease);
  ~LeaseRenewer();
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  void Hold(const std::string& key, int64_t token);
  void Drop(const std::string& key);
  // True when a renewal of the key's claim was refused: someone else owns it now.
  bool Lost(const std::string& key) const;
  uint64_t renewals() const;

 private:
  struct Claim {
    int64_t token = 0;
    bool lost = false;
  };
  void Loop();
  void RenewAll();

  DedupStore& store_;
  const std::string group_;
  const std::chrono::milliseconds lease_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;              // GUARDED_BY(mu_)
  std::map<std::string, Claim> held_;  // GUARDED_BY(mu_)
  uint64_t renewals_ = 0;              // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace oncemq::client
