#include "broker/connection.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "protocol/messages/api_versions.h"
#include "protocol/supported_apis.h"

namespace oncemq::broker {

namespace {
constexpr auto kForever = std::chrono::steady_clock::time_point::max();

// Kafka's answer to an ApiVersions request it cannot parse: error 35 in the v0 body, listing only
// ApiVersions, so the client retries with a version it knows (kafka-protocol.md §2.3).
Bytes UnsupportedApiVersionsReply(int32_t correlation_id) {
  protocol::Writer w;
  w.ReserveInt32();
  protocol::EncodeResponseHeader(w, correlation_id, /*flexible=*/false);
  const protocol::ApiSupport* self =
      protocol::FindSupportedApi(static_cast<int16_t>(protocol::ApiKey::kApiVersions));
  protocol::ApiVersionsResponse resp{
      protocol::ErrorCode::kUnsupportedVersion,
      {{static_cast<int16_t>(self->key), self->min_version, self->max_version}}};
  protocol::EncodeApiVersionsResponse(w, resp, 0);
  return Request::Finish(w);
}
}  // namespace

Connection::Connection(Broker& broker, asio::ip::tcp::socket socket)
    : broker_(broker),
      socket_(std::move(socket)),
      reply_ready_(socket_.get_executor(), kForever),
      space_ready_(socket_.get_executor(), kForever) {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  // Built by append: g++ 12 -O3 reports a false -Wrestrict for "/" + std::string.
  client_host_.assign(ec ? "?" : "/").append(ec ? "" : ep.address().to_string());
  peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void Connection::Start() {
  auto self = shared_from_this();
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->ReadLoop(); }, asio::detached);
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->WriteLoop(); }, asio::detached);
}

void Connection::Close(const char* why) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("closing connection {}: {}", peer_, why);
  std::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  reply_ready_.cancel();
  space_ready_.cancel();
}

asio::awaitable<bool> Connection::ReadFrame(Bytes& frame) {
  uint8_t size_bytes[4];
  std::error_code ec;
  co_await asio::async_read(socket_, asio::buffer(size_bytes), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  auto size = static_cast<int32_t>(LoadBe32(size_bytes));
  if (size < 8 || size > broker_.config().max_frame_bytes) {
    spdlog::warn("connection {}: refusing a {}-byte frame (limit {})", peer_, size,
                 broker_.config().max_frame_bytes);
    co_return false;
  }
  frame.resize(static_cast<size_t>(size));
  co_await asio::async_read(socket_, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<void> Connection::ReadLoop() {
  while (!closed_) {
    Bytes frame;
    if (!co_await ReadFrame(frame)) break;
    if (!Dispatch(std::move(frame))) break;
    while (!closed_ && replies_.size() >= broker_.config().max_in_flight_per_connection) {
      space_ready_.expires_at(kForever);
      std::error_code ec;
      co_await space_ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  reader_done_ = true;
  reply_ready_.cancel();  // let the writer drain what is queued, then close
}

bool Connection::Dispatch(Bytes frame) {
  const int64_t started_ns = SteadyNs();
  auto prefix = protocol::PeekHeaderPrefix(frame);
  if (!prefix) return false;
  const ApiGroup group = ApiGroupOf(prefix->api_key);
  Stats().apis[static_cast<size_t>(group)].requests.fetch_add(1, std::memory_order_relaxed);
  const protocol::ApiSupport* api = protocol::FindSupportedApi(prefix->api_key);
  if (api == nullptr) {
    spdlog::warn("connection {}: unknown API key {}; closing", peer_, prefix->api_key);
    return false;
  }
  if (!api->Supports(prefix->api_version)) {
    if (api->key == protocol::ApiKey::kApiVersions) {
      Enqueue(Reply::Now(UnsupportedApiVersionsReply(prefix->correlation_id)), group, started_ns);
      return true;
    }
    spdlog::warn("connection {}: API {} version {} is not supported; closing", peer_, prefix->api_key,
                 prefix->api_version);
    return false;
  }
  auto request = std::make_shared<Request>(Request{broker_, std::move(frame), {}, 0, false, client_host_});
  protocol::Reader reader{ByteView(request->frame)};
  const bool flexible = api->Flexible(prefix->api_version);
  request->header = protocol::DecodeRequestHeader(reader, flexible);
  if (!reader.ok()) return false;
  request->body_offset = reader.position();
  request->flexible_response = flexible && api->key != protocol::ApiKey::kApiVersions;
  Reply reply = HandlerFor(api->key)(std::move(request));
  if (reply.kind == Reply::Kind::kNone) {  // acks=0: answered by not answering
    Stats().apis[static_cast<size_t>(group)].latency.Observe(SteadyNs() - started_ns);
    return true;
  }
  if (reply.kind == Reply::Kind::kNow && reply.frame.empty()) {
    spdlog::warn("connection {}: malformed API {} v{} request; closing", peer_, prefix->api_key,
                 prefix->api_version);
    return false;
  }
  Enqueue(std::move(reply), group, started_ns);
  return true;
}

void Connection::Enqueue(Reply reply, ApiGroup api, int64_t started_ns) {
  replies_.push_back(Pending{std::move(reply), api, started_ns});
  reply_ready_.cancel();
}

asio::awaitable<void> Connection::WriteLoop() {
  while (!closed_) {
    if (replies_.empty()) {
      if (reader_done_) break;
      reply_ready_.expires_at(kForever);
      std::error_code ec;
      co_await reply_ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Reply& reply = replies_.front().reply;
    const ApiGroup api = replies_.front().api;
    const int64_t started_ns = replies_.front().started_ns;
    // Not a conditional expression: g++ 12 miscompiles co_await inside ?: (temporaries die early).
    Bytes frame;
    if (reply.kind == Reply::Kind::kLater) {
      frame = co_await std::move(*reply.later);
    } else {
      frame = std::move(reply.frame);
    }
    replies_.pop_front();
    space_ready_.cancel();
    if (frame.empty()) {
      Close("malformed request");
      break;
    }
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    Stats().apis[static_cast<size_t>(api)].latency.Observe(SteadyNs() - started_ns);
  }
  Close(reader_done_ ? "peer closed or protocol error" : "write failed");
}

}  // namespace oncemq::broker
