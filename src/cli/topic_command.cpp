// `oncemq topic create|list|describe|delete`: topic administration over the Kafka wire protocol,
// with output shaped like kafka-topics.sh so that people and scripts used to it feel at home.
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/kafka_admin.h"

namespace oncemq::cli {
namespace {

constexpr int kExitFailure = 1;

struct TopicArguments {
  AdminConnectOptions connect;
  std::string name;
  int partitions = -1;
  int replication_factor = -1;
  std::vector<std::string> configs;  // "key=value"
  bool all_configs = false;
};

int Fail(std::string_view command, const Status& status) {
  std::cerr << "oncemq topic " << command << ": error: " << status.message() << "\n";
  return kExitFailure;
}

Result<std::pair<std::string, std::string>> ParseConfig(const std::string& assignment) {
  size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    return Status::InvalidArgument("--config expects key=value, got '" + assignment + "'");
  }
  return std::pair{assignment.substr(0, equals), assignment.substr(equals + 1)};
}

Result<NewTopicSpec> MakeNewTopicSpec(const TopicArguments& args) {
  if (args.partitions == 0 || args.partitions < -1) {
    return Status::InvalidArgument("--partitions must be at least 1 (or -1 for the broker's default)");
  }
  NewTopicSpec spec{.name = args.name,
                    .partitions = args.partitions,
                    .replication_factor = args.replication_factor,
                    .configs = {}};
  for (const std::string& assignment : args.configs) {
    auto config = ParseConfig(assignment);
    if (!config.ok()) return config.status();
    spec.configs.push_back(std::move(config.value()));
  }
  return spec;
}

int RunCreate(const TopicArguments& args) {
  auto spec = MakeNewTopicSpec(args);
  if (!spec.ok()) return Fail("create", spec.status());
  auto admin = KafkaAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("create", admin.status());
  if (Status status = (*admin)->CreateTopic(*spec); !status.ok()) return Fail("create", status);
  std::cout << "Created topic " << args.name << ".\n";
  return 0;
}

int RunDelete(const TopicArguments& args) {
  auto admin = KafkaAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("delete", admin.status());
  if (Status status = (*admin)->DeleteTopic(args.name); !status.ok()) return Fail("delete", status);
  std::cout << "Deleted topic " << args.name << ".\n";
  return 0;
}

int RunList(const TopicArguments& args) {
  auto admin = KafkaAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("list", admin.status());
  auto names = (*admin)->ListTopics();
  if (!names.ok()) return Fail("list", names.status());
  for (const std::string& name : *names) std::cout << name << "\n";
  return 0;
}

std::string JoinIds(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i > 0 ? "," : "") << ids[i];
  return out.str();
}

std::string ShownValue(const TopicConfigEntry& entry) {
  return entry.is_sensitive ? "(sensitive)" : entry.value;
}

// kafka-topics shows only the settings that differ from the defaults on the topic's first line.
std::string OverriddenConfigs(const std::vector<TopicConfigEntry>& configs) {
  std::ostringstream out;
  bool first = true;
  for (const TopicConfigEntry& entry : configs) {
    if (entry.is_default) continue;
    out << (first ? "" : ",") << entry.name << "=" << ShownValue(entry);
    first = false;
  }
  return out.str();
}

void PrintTopicLine(const TopicDescription& topic, const std::string& configs) {
  size_t replication = topic.partitions.empty() ? 0 : topic.partitions.front().replicas.size();
  std::cout << "Topic: " << topic.name << "\tPartitionCount: " << topic.partitions.size()
            << "\tReplicationFactor: " << replication << "\tConfigs: " << configs << "\n";
}

void PrintPartitionLines(const TopicDescription& topic) {
  for (const PartitionDescription& partition : topic.partitions) {
    std::cout << "\tTopic: " << topic.name << "\tPartition: " << partition.id
              << "\tLeader: " << (partition.leader >= 0 ? std::to_string(partition.leader) : "none")
              << "\tReplicas: " << JoinIds(partition.replicas)
              << "\tIsr: " << JoinIds(partition.in_sync_replicas);
    if (!partition.error.empty()) std::cout << "\tError: " << partition.error;
    std::cout << "\n";
  }
}

void PrintAllConfigs(const std::vector<TopicConfigEntry>& configs) {
  std::cout << "Configs of " << (configs.empty() ? "(none reported)" : "the topic") << ":\n";
  for (const TopicConfigEntry& entry : configs) {
    std::cout << "\t" << entry.name << "=" << ShownValue(entry) << "\tsource=" << entry.source << "\n";
  }
}

int RunDescribe(const TopicArguments& args) {
  auto admin = KafkaAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("describe", admin.status());
  auto topic = (*admin)->DescribeTopic(args.name);
  if (!topic.ok()) return Fail("describe", topic.status());
  auto configs = (*admin)->DescribeTopicConfigs(args.name);
  // The partitions are still worth showing when only the configuration could not be read.
  PrintTopicLine(*topic, configs.ok() ? OverriddenConfigs(*configs) : "(unavailable)");
  PrintPartitionLines(*topic);
  if (!configs.ok()) return Fail("describe", configs.status());
  if (args.all_configs) PrintAllConfigs(*configs);
  return 0;
}

CLI::App* AddTopicSubcommand(CLI::App* topic, const char* name, const char* description,
                             const std::shared_ptr<TopicArguments>& args) {
  CLI::App* command = topic->add_subcommand(name, description);
  AddConnectOptions(command, &args->connect);
  return command;
}

void AddNameArgument(CLI::App* command, TopicArguments* args) {
  command->add_option("name", args->name, "Topic name")->required();
}

void AddCreateCommand(CLI::App* topic, int* exit_code) {
  auto args = std::make_shared<TopicArguments>();
  CLI::App* create = AddTopicSubcommand(topic, "create", "Create a topic", args);
  AddNameArgument(create, args.get());
  create->add_option("--partitions", args->partitions, "Partition count (-1: the broker's default)")
      ->capture_default_str();
  create
      ->add_option("--replication-factor", args->replication_factor,
                   "Replica count (-1: the broker's default; oncemq has one replica)")
      ->capture_default_str();
  create->add_option("--config", args->configs, "Topic setting key=value; repeat for several");
  create->callback([args, exit_code] { *exit_code = RunCreate(*args); });
}

void AddListCommand(CLI::App* topic, int* exit_code) {
  auto args = std::make_shared<TopicArguments>();
  CLI::App* list = AddTopicSubcommand(topic, "list", "List topic names, one per line", args);
  list->callback([args, exit_code] { *exit_code = RunList(*args); });
}

void AddDescribeCommand(CLI::App* topic, int* exit_code) {
  auto args = std::make_shared<TopicArguments>();
  CLI::App* describe = AddTopicSubcommand(topic, "describe", "Show partitions, leaders and configs", args);
  AddNameArgument(describe, args.get());
  describe->add_flag("--all-configs", args->all_configs, "Also list every setting with its source");
  describe->callback([args, exit_code] { *exit_code = RunDescribe(*args); });
}

void AddDeleteCommand(CLI::App* topic, int* exit_code) {
  auto args = std::make_shared<TopicArguments>();
  CLI::App* remove = AddTopicSubcommand(topic, "delete", "Delete a topic and its data", args);
  AddNameArgument(remove, args.get());
  remove->callback([args, exit_code] { *exit_code = RunDelete(*args); });
}

}  // namespace

void AddTopicCommands(CLI::App& app, int* exit_code) {
  CLI::App* topic =
      app.add_subcommand("topic", "Create, list, describe and delete topics (Kafka wire protocol)");
  topic->require_subcommand(1);
  AddCreateCommand(topic, exit_code);
  AddListCommand(topic, exit_code);
  AddDescribeCommand(topic, exit_code);
  AddDeleteCommand(topic, exit_code);
}

}  // namespace oncemq::cli
