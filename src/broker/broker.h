// Broker: the process-wide state every handler reaches — configuration, topics and the group-commit flusher.
//
// Lifecycle: Open() loads topics and recovers their logs; Run() serves until Shutdown() (SIGTERM/SIGINT),
// then stops accepting, lets the flusher make everything durable, and closes the logs.
// Thread safety: handlers on any I/O thread may use topics() and config() concurrently.
#pragma once

#include <memory>
#include <string>

#include "broker/broker_config.h"
#include "broker/flusher.h"
#include "broker/groups/group_coordinator.h"
#include "broker/groups/offset_store.h"
#include "broker/producer_id_allocator.h"
#include "broker/topic_registry.h"

namespace oncemq::broker {

class Server;

class Broker {
 public:
  explicit Broker(BrokerConfig config);
  ~Broker();

  Status Open();
  // Serves until a termination signal. Returns the status to exit with.
  Status Run();

  const BrokerConfig& config() const { return config_; }
  TopicRegistry& topics() { return *topics_; }
  ProducerIdAllocator& producer_ids() { return *producer_ids_; }
  GroupCoordinator& groups() { return *groups_; }
  OffsetStore& offsets() { return *offsets_; }
  // Deletes the committed offsets of groups idle for longer than offsets_retention_ms. Any thread.
  void ExpireOffsets();
  // The address clients are told to connect to (the bound port when listening on port 0).
  const std::string& advertised_host() const { return advertised_host_; }
  uint16_t advertised_port() const { return advertised_port_; }
  void set_bound_port(uint16_t port) { advertised_port_ = port; }

  // Finds a topic, creating it with broker defaults when auto-creation is on and `allow_create` is set.
  // Returns nullptr when it does not exist and was not created.
  std::shared_ptr<Topic> FindOrCreateTopic(std::string_view name, bool allow_create);

 private:
  BrokerConfig config_;
  Flusher flusher_;
  std::unique_ptr<TopicRegistry> topics_;
  std::unique_ptr<ProducerIdAllocator> producer_ids_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<OffsetStore> offsets_;
  std::string advertised_host_;
  uint16_t advertised_port_ = 0;
};

}  // namespace oncemq::broker
