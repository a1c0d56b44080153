#include "protocol/request_header.h"

namespace oncemq::protocol {

std::optional<HeaderPrefix> PeekHeaderPrefix(ByteView frame) {
  Reader r(frame);
  HeaderPrefix p;
  p.api_key = r.Int16();
  p.api_version = r.Int16();
  p.correlation_id = r.Int32();
  if (!r.ok()) return std::nullopt;
  return p;
}

RequestHeader DecodeRequestHeader(Reader& r, bool flexible) {
  RequestHeader h;
  h.api_key = r.Int16();
  h.api_version = r.Int16();
  h.correlation_id = r.Int32();
  h.client_id = r.NullableString();
  if (flexible) r.SkipTaggedFields();
  return h;
}

void EncodeRequestHeader(Writer& w, const RequestHeader& h, bool flexible) {
  w.Int16(h.api_key);
  w.Int16(h.api_version);
  w.Int32(h.correlation_id);
  w.NullableString(h.client_id);
  if (flexible) w.EmptyTaggedFields();
}

void EncodeResponseHeader(Writer& w, int32_t correlation_id, bool flexible) {
  w.Int32(correlation_id);
  if (flexible) w.EmptyTaggedFields();
}

}  // namespace oncemq::protocol
