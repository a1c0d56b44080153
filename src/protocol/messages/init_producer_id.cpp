#include "protocol/messages/init_producer_id.h"

namespace oncemq::protocol {

InitProducerIdRequest DecodeInitProducerIdRequest(Reader& r, int16_t /*version*/) {
  InitProducerIdRequest req;
  req.transactional_id = r.NullableString();
  req.transaction_timeout_ms = r.Int32();
  return req;
}

void EncodeInitProducerIdResponse(Writer& w, const InitProducerIdResponse& resp, int16_t /*version*/) {
  w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
  w.Int64(resp.producer_id);
  w.Int16(resp.producer_epoch);
}

}  // namespace oncemq::protocol
