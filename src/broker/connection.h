// Connection: one client's socket, read and written by two coroutines on the connection's thread.
//
// The reader takes one request at a time, runs its handler at once (so produce appends keep arrival
// order) and queues the reply; the writer sends replies strictly in request order, awaiting a deferred
// reply (fsync wait, fetch long-poll) without stopping the reader. At most max_in_flight replies are queued;
// past that the reader waits, so a client cannot make the broker buffer without bound.
// An unreadable frame, an unknown API or an unsupported version closes only this connection (after the
// replies already queued are sent); an ApiVersions request of an unsupported version gets error 35.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <memory>

#include "broker/broker_stats.h"
#include "broker/request.h"

namespace oncemq::broker {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Broker& broker, asio::ip::tcp::socket socket);
  // Starts both coroutines on the socket's executor.
  void Start();

 private:
  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<bool> ReadFrame(Bytes& frame);
  // Returns false when the connection must close.
  bool Dispatch(Bytes frame);
  // `api` and `started_ns` (SteadyNs at the request's arrival) time the answer for the metrics.
  void Enqueue(Reply reply, ApiGroup api, int64_t started_ns);
  void Close(const char* why);

  Broker& broker_;
  asio::ip::tcp::socket socket_;
  std::string peer_;
  std::string client_host_;  // "/ADDRESS", as Kafka shows a member's host
  struct Pending {
    Reply reply;
    ApiGroup api;
    int64_t started_ns;
  };
  std::deque<Pending> replies_;
  asio::steady_timer reply_ready_;  // cancelled to wake the writer
  asio::steady_timer space_ready_;  // cancelled to wake the reader
  bool reader_done_ = false;
  bool closed_ = false;
};

}  // namespace oncemq::broker
