// TopicRegistry: the broker's topics, their configs and partitions, persisted under <data>/topics/.
//
// Layout: <data>/topics/<name>/topic.json ({"partitions": N, "config": {...overrides}}) and one log
// directory per partition, <data>/topics/<name>/<partition>/. topic.json is written atomically (temp file,
// fsync, rename, fsync dir). A deleted topic is first renamed into <data>/trash/ and then removed, so a
// crash mid-delete never leaves a half topic behind; leftovers in trash/ are removed at start.
// Thread safety: all methods may be called from any thread; a returned Topic stays valid while held.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "broker/flusher.h"
#include "broker/partition.h"
#include "broker/topic_config.h"

namespace oncemq::broker {

struct Topic {
  std::string name;
  TopicConfig config;
  std::vector<std::unique_ptr<Partition>> partitions;

  Partition* partition(int32_t index) const {
    if (index < 0 || static_cast<size_t>(index) >= partitions.size()) return nullptr;
    return partitions[static_cast<size_t>(index)].get();
  }
};

class TopicRegistry {
 public:
  TopicRegistry(std::filesystem::path data_dir, TopicDefaults defaults, Flusher& flusher);
  ~TopicRegistry();

  // Loads every topic found on disk, recovering each partition log.
  Status Load();

  // kAlreadyExists, kInvalidArgument (name, partitions or config) or kIoError.
  Result<std::shared_ptr<Topic>> Create(const std::string& name, int32_t partitions,
                                        std::map<std::string, std::string> overrides,
                                        bool validate_only = false);
  std::shared_ptr<Topic> Find(std::string_view name) const;
  Status Delete(const std::string& name);
  std::vector<std::shared_ptr<Topic>> List() const;
  // Flushes and closes every partition log.
  void CloseAll();

  const TopicDefaults& defaults() const { return defaults_; }

 private:
  Result<std::shared_ptr<Topic>> OpenTopic(const std::string& name, int32_t partitions, TopicConfig config);
  Status WriteTopicFile(const std::filesystem::path& dir, int32_t partitions, const TopicConfig& config);

  const std::filesystem::path data_dir_;
  const TopicDefaults defaults_;
  Flusher& flusher_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_;  // GUARDED_BY(mu_)
  std::mutex create_mu_;  // serialises Create/Delete so two creates of one name cannot race on disk
};

}  // namespace oncemq::broker
