#include "broker/async_waiter.h"

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace oncemq::broker {

void AsyncWaiter::Fire(Status status) {
  {
    std::lock_guard lock(mu_);
    if (fired_) return;
    fired_ = true;
    status_ = std::move(status);
  }
  asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
}

bool AsyncWaiter::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

asio::awaitable<Status> AsyncWaiter::Wait(std::chrono::steady_clock::time_point deadline) {
  timer_.expires_at(deadline);
  // A Fire() that raced ahead of us already posted its cancel; it cannot run before we suspend below
  // (same single-threaded executor), but checking here saves the suspension entirely.
  if (!fired()) {
    std::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::lock_guard lock(mu_);
  if (!fired_) co_return Status::Unavailable("timed out");
  co_return status_;
}

}  // namespace oncemq::broker
