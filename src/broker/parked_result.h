// ParkedResult<T>: a result that another thread may deliver later, awaited by a connection's coroutine.
//
// The group coordinator answers a held JoinGroup or SyncGroup from whichever thread completes the phase,
// and the offset store acknowledges from its sync thread. The producer side of those calls keeps only a
// weak_ptr (see Deliverer), so a connection that is gone — its coroutine frame destroyed at shutdown —
// is simply not answered, and nothing touches a timer of a destroyed io_context. The waiter is made by
// the awaiting coroutine itself, on its own executor, and only when the result is not there yet.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/this_coro.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "broker/async_waiter.h"

namespace oncemq::broker {

template <typename T>
class ParkedResult : public std::enable_shared_from_this<ParkedResult<T>> {
 public:
  // The function to hand to the producer: delivers at most once; later calls are ignored.
  auto Deliverer() {
    return [weak = this->weak_from_this()](T value) {
      if (auto self = weak.lock()) self->Deliver(std::move(value));
    };
  }

  // Already delivered (e.g. synchronously inside the call that took the Deliverer)?
  std::optional<T> TryTake() {
    std::lock_guard lock(mu_);
    return std::exchange(value_, std::nullopt);
  }

  // The delivered value, or nullopt when `deadline` passes first.
  asio::awaitable<std::optional<T>> Await(std::chrono::steady_clock::time_point deadline) {
    auto waiter = std::make_shared<AsyncWaiter>(co_await asio::this_coro::executor);
    {
      std::lock_guard lock(mu_);
      if (value_) co_return std::exchange(value_, std::nullopt);
      waiter_ = waiter;
    }
    (void)co_await waiter->Wait(deadline);
    co_return TryTake();
  }

 private:
  void Deliver(T value) {
    std::shared_ptr<AsyncWaiter> waiter;
    {
      std::lock_guard lock(mu_);
      if (delivered_) return;
      delivered_ = true;
      value_ = std::move(value);
      waiter = waiter_;
    }
    if (waiter) waiter->Fire();
  }

  std::mutex mu_;
  bool delivered_ = false;               // GUARDED_BY(mu_)
  std::optional<T> value_;               // GUARDED_BY(mu_)
  std::shared_ptr<AsyncWaiter> waiter_;  // GUARDED_BY(mu_)
};

}  // namespace oncemq::broker
