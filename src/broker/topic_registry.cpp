#include "broker/topic_registry.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

namespace oncemq::broker {

namespace fs = std::filesystem;

namespace {

Status FsyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IoError("open " + path.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IoError("fsync " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

TopicRegistry::TopicRegistry(fs::path data_dir, TopicDefaults defaults, Flusher& flusher)
    : data_dir_(std::move(data_dir)), defaults_(std::move(defaults)), flusher_(flusher) {}

TopicRegistry::~TopicRegistry() {
  CloseAll();
}

Status TopicRegistry::Load() {
  std::error_code ec;
  fs::create_directories(data_dir_ / "topics", ec);
  if (ec) return Status::IoError("create " + (data_dir_ / "topics").string() + ": " + ec.message());
  fs::remove_all(data_dir_ / "trash", ec);
  for (const auto& entry : fs::directory_iterator(data_dir_ / "topics")) {
    if (!entry.is_directory()) continue;
    std::string name = entry.path().filename().string();
    std::ifstream in(entry.path() / "topic.json");
    if (!in) {
      spdlog::warn("topic directory {} has no topic.json; ignoring it", entry.path().string());
      continue;
    }
    auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.contains("partitions")) {
      return Status::Corruption("unreadable " + (entry.path() / "topic.json").string());
    }
    std::map<std::string, std::string> overrides = json.value("config", std::map<std::string, std::string>{});
    auto config = TopicConfig::Make(defaults_, overrides);
    if (!config.ok()) return config.status();
    auto topic = OpenTopic(name, json["partitions"].get<int32_t>(), std::move(*config));
    if (!topic.ok()) return topic.status();
    std::unique_lock lock(mu_);
    topics_[name] = std::move(*topic);
  }
  spdlog::info("loaded {} topics from {}", topics_.size(), data_dir_.string());
  return Status::Ok();
}

Result<std::shared_ptr<Topic>> TopicRegistry::OpenTopic(const std::string& name, int32_t partitions,
                                                        TopicConfig config) {
  auto topic = std::make_shared<Topic>(Topic{name, std::move(config), {}});
  for (int32_t p = 0; p < partitions; ++p) {
    auto log =
        storage::PartitionLog::Open(data_dir_ / "topics" / name / std::to_string(p), topic->config.log());
    if (!log.ok()) return log.status();
    auto partition = std::make_unique<Partition>(name, PartitionId(p), std::move(*log),
                                                 [this](Partition* part) { flusher_.RequestFlush(part); });
    if (Status s = partition->RecoverProducerState(defaults_.producers); !s.ok()) return s;
    if (topic->config.dedup_window_ms() > 0) {
      partition->EnableMsgIdWindow(topic->config.dedup_window_ms(), topic->config.dedup_max_entries());
      if (Status s = partition->RecoverMsgIdWindow(); !s.ok()) return s;
    }
    topic->partitions.push_back(std::move(partition));
  }
  return topic;
}

Status TopicRegistry::WriteTopicFile(const fs::path& dir, int32_t partitions, const TopicConfig& config) {
  nlohmann::json json = {{"partitions", partitions}, {"config", config.overrides()}};
  fs::path tmp = dir / "topic.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json.dump(2) << "\n";
    if (!out.flush()) return Status::IoError("write " + tmp.string());
  }
  if (Status s = FsyncPath(tmp); !s.ok()) return s;
  std::error_code ec;
  fs::rename(tmp, dir / "topic.json", ec);
  if (ec) return Status::IoError("rename " + tmp.string() + ": " + ec.message());
  if (Status s = FsyncPath(dir); !s.ok()) return s;
  return FsyncPath(dir.parent_path());
}

Result<std::shared_ptr<Topic>> TopicRegistry::Create(const std::string& name, int32_t partitions,
                                                     std::map<std::string, std::string> overrides,
                                                     bool validate_only) {
  if (!IsValidTopicName(name)) {
    return Status::InvalidArgument("topic name '" + name + "' must be 1-249 characters of [a-zA-Z0-9._-]");
  }
  if (partitions == -1) partitions = defaults_.partitions;
  if (partitions <= 0 || partitions > 10000) {
    return Status::InvalidArgument("partitions must be between 1 and 10000, not " +
                                   std::to_string(partitions));
  }
  auto config = TopicConfig::Make(defaults_, std::move(overrides));
  if (!config.ok()) return config.status();
  std::lock_guard create_lock(create_mu_);
  if (Find(name)) return Status::AlreadyExists("topic '" + name + "' already exists");
  if (validate_only) return std::make_shared<Topic>(Topic{name, std::move(*config), {}});

  fs::path dir = data_dir_ / "topics" / name;
  std::error_code ec;
  fs::remove_all(dir, ec);  // a directory without topic.json is a crashed create: start over
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("create " + dir.string() + ": " + ec.message());
  auto topic = OpenTopic(name, partitions, *config);
  if (!topic.ok()) return topic.status();
  // topic.json last: its presence is what makes the topic exist after a crash.
  if (Status s = WriteTopicFile(dir, partitions, *config); !s.ok()) return s;
  std::unique_lock lock(mu_);
  topics_[name] = *topic;
  spdlog::info("created topic {} with {} partitions", name, partitions);
  return *topic;
}

std::shared_ptr<Topic> TopicRegistry::Find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Topic>> TopicRegistry::List() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<Topic>> out;
  out.reserve(topics_.size());
  for (const auto& [name, topic] : topics_) out.push_back(topic);
  return out;
}

Status TopicRegistry::Delete(const std::string& name) {
  std::lock_guard create_lock(create_mu_);
  std::shared_ptr<Topic> topic;
  {
    std::unique_lock lock(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return Status::NotFound("topic '" + name + "' does not exist");
    topic = it->second;
    topics_.erase(it);
  }
  for (auto& p : topic->partitions) {
    (void)p->log().Close();  // closed first: a late append now fails instead of queueing a flush
    flusher_.Forget(p.get());
  }
  std::error_code ec;
  fs::path trash = data_dir_ / "trash";
  fs::create_directories(trash, ec);
  auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  fs::path target = trash / (name + "." + std::to_string(stamp));
  fs::rename(data_dir_ / "topics" / name, target, ec);
  if (ec) return Status::IoError("move " + name + " to trash: " + ec.message());
  (void)FsyncPath(data_dir_ / "topics");
  fs::remove_all(target, ec);
  spdlog::info("deleted topic {}", name);
  return Status::Ok();
}

void TopicRegistry::CloseAll() {
  std::unique_lock lock(mu_);
  for (auto& [name, topic] : topics_) {
    for (auto& p : topic->partitions) {
      if (Status s = p->SnapshotProducerState(); !s.ok()) {
        spdlog::warn("snapshot of {}/{} producer state: {}", name, p->id().value(), s.ToString());
      }
      if (Status s = p->log().Close(); !s.ok())
        spdlog::error("closing {}/{}: {}", name, p->id().value(), s.ToString());
      flusher_.Forget(p.get());
    }
  }
  topics_.clear();
}

}  // namespace oncemq::broker
