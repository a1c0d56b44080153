// Prometheus metrics over HTTP (text exposition format 0.0.4), served on --metrics-listen.
//
// Per partition: log start/end, high watermark, bytes, idempotent producers tracked and evicted by the
// bound, batches (and their records) answered as duplicates by producer sequence numbers, message-id
// window ids, bytes and duplicates dropped, and ids evicted early by the bound (docs/dedup.md); then the
// broker-wide requests, request latencies and fsyncs of broker_stats.h (docs/operations.md).
// Every GET answers the whole page; anything else gets 405. One request per connection.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <string>

namespace oncemq::broker {

class Broker;

std::string RenderMetrics(Broker& broker);
asio::awaitable<void> ServeMetrics(Broker& broker, asio::ip::tcp::acceptor& acceptor);

}  // namespace oncemq::broker
