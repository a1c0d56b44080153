#include "broker/broker.h"

#include <spdlog/spdlog.h>

#include "broker/server.h"
#include "common/clock.h"

namespace oncemq::broker {

Broker::Broker(BrokerConfig config) : config_(std::move(config)) {
  advertised_host_ = config_.advertised_host.empty() ? config_.listen_host : config_.advertised_host;
  advertised_port_ = config_.listen_port;
}

Broker::~Broker() {
  if (offsets_) offsets_->Close();
  if (topics_) topics_->CloseAll();
  flusher_.Stop();
}

Status Broker::Open() {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) return Status::IoError("cannot create data dir " + config_.data_dir.string() + ": " + ec.message());
  producer_ids_ = std::make_unique<ProducerIdAllocator>(config_.data_dir / "producer_ids");
  if (Status s = producer_ids_->Load(); !s.ok()) return s;
  groups_ = std::make_unique<GroupCoordinator>(config_.groups, SteadyMs());
  auto offsets = OffsetStore::Open(config_.data_dir / "groups");
  if (!offsets.ok()) return offsets.status();
  offsets_ = std::move(*offsets);
  flusher_.Start();
  topics_ = std::make_unique<TopicRegistry>(config_.data_dir, config_.topic_defaults, flusher_);
  return topics_->Load();
}

Status Broker::Run() {
  Server server(*this);
  Status status = server.Run();
  spdlog::info("shutting down: flushing and closing logs");
  flusher_.Stop();  // flushes whatever is still dirty
  topics_->CloseAll();
  offsets_->Close();
  return status;
}

void Broker::ExpireOffsets() {
  const int64_t retention = config_.offsets_retention_ms;
  for (const std::string& group : offsets_->Groups()) {
    auto empty_for = groups_->EmptyForMs(group, SteadyMs());
    auto last_commit = offsets_->LastCommitMs(group);
    if (!empty_for || *empty_for < retention || !last_commit || WallMs() - *last_commit < retention) continue;
    if (groups_->Delete(group) != ErrorCode::kNone) continue;  // a member joined meanwhile
    spdlog::info("group {}: no member and no commit for {} ms; its committed offsets expire", group,
                 retention);
    offsets_->DeleteGroup(group, [group](Status s) {
      if (!s.ok()) spdlog::warn("group {}: expiring offsets failed: {}", group, s.ToString());
    });
  }
}

std::shared_ptr<Topic> Broker::FindOrCreateTopic(std::string_view name, bool allow_create) {
  if (auto topic = topics_->Find(name)) return topic;
  if (!allow_create || !config_.auto_create_topics || !IsValidTopicName(name)) return nullptr;
  auto created = topics_->Create(std::string(name), -1, {});
  if (created.ok()) return *created;
  if (created.status().code() == StatusCode::kAlreadyExists) return topics_->Find(name);
  spdlog::warn("auto-create of topic {} failed: {}", name, created.status().ToString());
  return nullptr;
}

}  // namespace oncemq::broker
