// Pieces the subcommand families share.
#include "cli/commands.h"

#include "cli/kafka_admin.h"

namespace oncemq::cli {

void AddConnectOptions(CLI::App* command, AdminConnectOptions* connect) {
  command->add_option("--bootstrap", connect->bootstrap, "Broker address HOST:PORT")->capture_default_str();
  command->add_option("--timeout-ms", connect->timeout_ms, "Give up when no broker answers within this time")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

}  // namespace oncemq::cli
