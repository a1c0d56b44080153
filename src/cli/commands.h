// Each subcommand family registers itself on the root CLI11 app. The registered callback runs the
// command and stores its process exit status in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace oncemq::cli {

void AddBrokerCommand(CLI::App& app, int* exit_code);
void AddTopicCommands(CLI::App& app, int* exit_code);
void AddGroupCommands(CLI::App& app, int* exit_code);
void AddBenchCommands(CLI::App& app, int* exit_code);
void AddDedupCommands(CLI::App& app, int* exit_code);
void AddDlqCommands(CLI::App& app, int* exit_code);
void AddOutboxCommands(CLI::App& app, int* exit_code);
void AddDemoCommands(CLI::App& app, int* exit_code);

struct AdminConnectOptions;
// Adds --bootstrap and --timeout-ms, the options of every command that talks to a broker, to `command`;
// parsing writes them into *connect, which must outlive the parse.
void AddConnectOptions(CLI::App* command, AdminConnectOptions* connect);

}  // namespace oncemq::cli
