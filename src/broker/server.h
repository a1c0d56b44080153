// Server: the listening socket, one io_context per I/O thread, and signal handling.
// Connections are spread round-robin over the I/O threads; each lives on one thread for its whole life.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <vector>

#include "common/status.h"

namespace oncemq::broker {

class Broker;

class Server {
 public:
  explicit Server(Broker& broker);
  // Binds, writes the ready file, serves until SIGTERM/SIGINT, then stops every I/O thread.
  Status Run();

 private:
  Broker& broker_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
};

}  // namespace oncemq::broker
