// Each subcommand family registers itself on the root CLI11 app. The registered callback runs the
// command and stores its process exit status in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace oncemq::cli {

void AddBrokerCommand(CLI::App& app, int* exit_code);
void AddTopicCommands(CLI::App& app, int* exit_code);
void AddGroupCommands(CLI::App& app, int* exit_code);
void AddBenchCommands(CLI::App& app, int* exit_code);

}  // namespace oncemq::cli
