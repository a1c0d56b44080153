#include "broker/server.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fstream>
#include <thread>

#include "broker/broker.h"
#include "broker/connection.h"
#include "broker/metrics.h"
#include "common/clock.h"

namespace oncemq::broker {

namespace {

Status WriteReadyFile(const std::filesystem::path& path, const std::string& address) {
  if (path.empty()) return Status::Ok();
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << address << "\n";
    if (!out.flush()) return Status::IoError("cannot write ready file " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot rename ready file: " + ec.message());
  return Status::Ok();
}

asio::awaitable<void> AcceptLoop(Broker& broker, asio::ip::tcp::acceptor& acceptor,
                                 std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  size_t next = 0;
  while (acceptor.is_open()) {
    asio::io_context& target = *contexts[next++ % contexts.size()];
    std::error_code ec;
    asio::ip::tcp::socket socket =
        co_await acceptor.async_accept(target, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    std::make_shared<Connection>(broker, std::move(socket))->Start();
  }
}

// Periodic housekeeping: retention, producer expiry and producer-state snapshots.
asio::awaitable<void> MaintenanceLoop(Broker& broker) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_after(std::chrono::milliseconds(broker.config().retention_check_ms));
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    broker.ExpireOffsets();
    for (const auto& topic : broker.topics().List()) {
      for (const auto& p : topic->partitions) {
        if (size_t n = p->log().ApplyRetention(now); n > 0) {
          spdlog::info("retention deleted {} segments of {}/{}", n, topic->name, p->id().value());
          p->OnLogStartAdvanced();
        }
        // Shortens the replay after a crash to what was appended since this snapshot.
        if (Status s = p->SnapshotProducerState(); !s.ok()) {
          spdlog::warn("snapshot of {}/{} producer state: {}", topic->name, p->id().value(), s.ToString());
        }
      }
    }
  }
}

// Consumer-group timers: sessions, join and sync phases, pending member ids. Their timeouts are seconds
// long, so a tenth of a second of lateness is invisible to clients.
asio::awaitable<void> GroupTimerLoop(Broker& broker) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_after(std::chrono::milliseconds(100));
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    broker.groups().Tick(SteadyMs());
  }
}

Status StartMetrics(Broker& broker, asio::ip::tcp::acceptor& metrics) {
  const std::string& spec = broker.config().metrics_listen;
  if (spec.empty()) return Status::Ok();
  auto colon = spec.rfind(':');
  std::error_code ec;
  auto host = asio::ip::make_address(colon == std::string::npos ? spec : spec.substr(0, colon), ec);
  int port = colon == std::string::npos ? -1 : std::atoi(spec.c_str() + colon + 1);
  if (ec || port < 0 || port > 65535) return Status::InvalidArgument("--metrics-listen must be HOST:PORT");
  asio::ip::tcp::endpoint endpoint(host, static_cast<uint16_t>(port));
  metrics.open(endpoint.protocol(), ec);
  if (!ec) metrics.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) metrics.bind(endpoint, ec);
  if (!ec) metrics.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot serve metrics on " + spec + ": " + ec.message());
  asio::co_spawn(metrics.get_executor(), ServeMetrics(broker, metrics), asio::detached);
  spdlog::info("metrics on http://{}:{}/metrics", host.to_string(), metrics.local_endpoint().port());
  return Status::Ok();
}

}  // namespace

Server::Server(Broker& broker) : broker_(broker) {
  int threads = broker.config().io_threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

Status Server::Run() {
  asio::io_context& main = *contexts_[0];
  std::error_code ec;
  auto address = asio::ip::make_address(broker_.config().listen_host, ec);
  if (ec) return Status::InvalidArgument("bad listen host '" + broker_.config().listen_host + "'");
  asio::ip::tcp::acceptor acceptor(main);
  asio::ip::tcp::endpoint endpoint(address, broker_.config().listen_port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Unavailable("cannot listen on " + broker_.config().listen_host + ":" +
                               std::to_string(broker_.config().listen_port) + ": " + ec.message());
  broker_.set_bound_port(acceptor.local_endpoint().port());
  std::string bound = broker_.config().listen_host + ":" + std::to_string(broker_.advertised_port());

  // Work guards keep idle I/O threads running until shutdown.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& ctx : contexts_) guards.push_back(asio::make_work_guard(*ctx));

  asio::signal_set signals(main, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int signal) {
    spdlog::info("received signal {}, stopping", signal);
    std::error_code ignored;
    acceptor.close(ignored);
    for (auto& ctx : contexts_) ctx->stop();
  });
  asio::co_spawn(main, AcceptLoop(broker_, acceptor, contexts_), asio::detached);
  asio::co_spawn(main, MaintenanceLoop(broker_), asio::detached);
  asio::co_spawn(main, GroupTimerLoop(broker_), asio::detached);
  asio::ip::tcp::acceptor metrics(main);
  if (Status s = StartMetrics(broker_, metrics); !s.ok()) return s;

  if (Status s = WriteReadyFile(broker_.config().ready_file, bound); !s.ok()) return s;
  spdlog::info("oncemq broker listening on {} (data in {}, {} I/O threads)", bound,
               broker_.config().data_dir.string(), contexts_.size());
  spdlog::info("produce with: kcat -b {} -P -t my-topic    consume with: kcat -b {} -C -t my-topic -e", bound,
               bound);

  std::vector<std::thread> threads;
  for (size_t i = 1; i < contexts_.size(); ++i)
    threads.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
  main.run();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads) t.join();
  return Status::Ok();
}

}  // namespace oncemq::broker
