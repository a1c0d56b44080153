// Flusher: the group-commit thread. Partitions ask for a flush after appending; the flusher fsyncs each
// dirty partition once for everything appended so far, so many produce requests share one fsync.
//
// Policy "always": flushed as soon as the flusher is free. "interval=MS": flushed at most every MS.
// "never": never asked. Stop() flushes whatever is still dirty, then joins the thread.
// Thread safety: RequestFlush() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace oncemq::broker {

class Partition;

class Flusher {
 public:
  Flusher() = default;
  ~Flusher() { Stop(); }
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void Start();
  void Stop();
  // REQUIRES: `partition` stays alive until the flusher is stopped or the partition's topic is dropped
  // through Forget().
  void RequestFlush(Partition* partition);
  // Waits until `partition` is no longer being flushed and removes it from the queue.
  void Forget(Partition* partition);

 private:
  void Run();
  static bool Urgent(const Partition* p);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Partition*> queue_;   // GUARDED_BY(mu_)
  Partition* in_flight_ = nullptr;  // GUARDED_BY(mu_)
  std::condition_variable idle_cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace oncemq::broker
