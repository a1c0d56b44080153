#include "cli/commands.h"

namespace oncemq::cli {
void AddBrokerCommand(CLI::App&, int*) {}
}  // namespace oncemq::cli
