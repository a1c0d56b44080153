#include "broker/request.h"

namespace oncemq::broker {

protocol::Writer Request::StartResponse() const {
  protocol::Writer w;
  w.ReserveInt32();
  protocol::EncodeResponseHeader(w, header.correlation_id, flexible_response);
  return w;
}

Bytes Request::Finish(protocol::Writer& w) {
  w.PatchLengthSince(0);
  return w.Take();
}

}  // namespace oncemq::broker
