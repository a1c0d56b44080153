#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"oncemq: a durable, Kafka-compatible message bus whose business effects happen once"};
  app.require_subcommand(1);
  int exit_code = 0;
  oncemq::cli::AddBrokerCommand(app, &exit_code);
  oncemq::cli::AddTopicCommands(app, &exit_code);
  oncemq::cli::AddGroupCommands(app, &exit_code);
  oncemq::cli::AddBenchCommands(app, &exit_code);
  oncemq::cli::AddDedupCommands(app, &exit_code);
  oncemq::cli::AddDlqCommands(app, &exit_code);
  oncemq::cli::AddOutboxCommands(app, &exit_code);
  oncemq::cli::AddDemoCommands(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
