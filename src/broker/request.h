// Request: one decoded request and what its handler needs; Reply: what the handler gives back.
//
// A handler runs on the connection's thread right after its request is read, before the next request of
// that connection is looked at (so produce appends keep arrival order). Work that must wait — a produce
// awaiting fsync, a fetch long-poll — goes in Reply::later, which the connection's writer awaits in
// request order. The Request (and its frame bytes) stay alive until the reply is written.
#pragma once

#include <asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "protocol/reader.h"
#include "protocol/request_header.h"
#include "protocol/writer.h"

namespace oncemq::broker {

class Broker;

struct Request {
  Broker& broker;
  Bytes frame;  // the whole request after the size prefix; handlers may rewrite record batches in place
  protocol::RequestHeader header;
  size_t body_offset = 0;
  bool flexible_response = false;
  std::string client_host;  // the peer's address, as group tools show it

  int16_t version() const { return header.api_version; }
  protocol::Reader BodyReader() const { return protocol::Reader(ByteView(frame).subspan(body_offset)); }
  // A writer that already holds the size placeholder and the response header.
  protocol::Writer StartResponse() const;
  // Patches the size prefix and returns the finished frame.
  static Bytes Finish(protocol::Writer& w);
};

struct Reply {
  enum class Kind { kNow, kLater, kNone };
  Kind kind = Kind::kNone;
  Bytes frame;                                  // kNow
  std::optional<asio::awaitable<Bytes>> later;  // kLater

  static Reply Now(Bytes frame) { return {Kind::kNow, std::move(frame), std::nullopt}; }
  static Reply Later(asio::awaitable<Bytes> work) { return {Kind::kLater, {}, std::move(work)}; }
  static Reply None() { return {}; }
};

using Handler = Reply (*)(std::shared_ptr<Request> request);

}  // namespace oncemq::broker
