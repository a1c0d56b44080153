// Temporary: replaced by topic_command.cpp and bench/ as they land.
#include "cli/commands.h"

namespace oncemq::cli {
void AddTopicCommands(CLI::App&, int*) {}
void AddBenchCommands(CLI::App&, int*) {}
}  // namespace oncemq::cli
