#include "client/consumer/lease_renewer.h"

#include <vector>

namespace oncemq::client {

LeaseRenewer::LeaseRenewer(DedupStore& store, std::string group, std::chrono::milliseconds lease)
    : store_(store), group_(std::move(group)), lease_(lease), thread_([this] { Loop(); }) {}

LeaseRenewer::~LeaseRenewer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void LeaseRenewer::Hold(const std::string& key, int64_t token) {
  std::lock_guard lock(mu_);
  held_[key] = Claim{.token = token};
}

void LeaseRenewer::Drop(const std::string& key) {
  std::lock_guard lock(mu_);
  held_.erase(key);
}

bool LeaseRenewer::Lost(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = held_.find(key);
  return it != held_.end() && it->second.lost;
}

uint64_t LeaseRenewer::renewals() const {
  std::lock_guard lock(mu_);
  return renewals_;
}

void LeaseRenewer::Loop() {
  const auto interval = std::max(lease_ / 3, std::chrono::milliseconds(1));
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    RenewAll();
    lock.lock();
  }
}

void LeaseRenewer::RenewAll() {
  std::vector<std::pair<std::string, int64_t>> claims;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, claim] : held_) {
      if (!claim.lost) claims.emplace_back(key, claim.token);
    }
  }
  for (const auto& [key, token] : claims) {
    Result<FencedOutcome> renewed = store_.Renew(group_, key, token, lease_);
    std::lock_guard lock(mu_);
    if (!renewed.ok()) continue;  // retried at the next tick
    ++renewals_;
    auto it = held_.find(key);
    if (*renewed == FencedOutcome::kFenced && it != held_.end() && it->second.token == token) {
      it->second.lost = true;
    }
  }
}

}  // namespace oncemq::client
