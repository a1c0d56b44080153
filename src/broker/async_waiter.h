// AsyncWaiter: a one-shot wake-up that a coroutine awaits with a deadline and any thread may fire.
//
// The flusher thread fires durability waiters; appends fire fetch waiters. Fire() posts the wake-up to
// the waiter's own executor, so the awaiting coroutine always resumes on its connection's thread.
// Shared ownership (shared_ptr) keeps the timer alive until both sides are done with it.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>

#include "common/status.h"

namespace oncemq::broker {

class AsyncWaiter : public std::enable_shared_from_this<AsyncWaiter> {
 public:
  explicit AsyncWaiter(asio::any_io_executor executor) : timer_(std::move(executor)) {}

  // Wakes the waiter with `status`. Only the first call counts. Any thread.
  void Fire(Status status = Status::Ok());

  // Waits until fired or `deadline`. Returns the fired status, or kUnavailable on timeout.
  // REQUIRES: called at most once, from a coroutine on this waiter's executor.
  asio::awaitable<Status> Wait(std::chrono::steady_clock::time_point deadline);

  bool fired() const;

 private:
  mutable std::mutex mu_;
  bool fired_ = false;  // GUARDED_BY(mu_)
  Status status_;       // GUARDED_BY(mu_)
  asio::steady_timer timer_;
};

}  // namespace oncemq::broker
