#include <spdlog/spdlog.h>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "protocol/messages/init_producer_id.h"

namespace oncemq::broker {

Reply HandleInitProducerId(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeInitProducerIdRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  protocol::InitProducerIdResponse resp;
  if (req.transactional_id) {
    // Idempotence without transactions: a transactional id asks for fencing across sessions that this
    // broker does not implement yet. Saying so beats pretending.
    spdlog::warn("InitProducerId with transactional id '{}' refused: transactions are not supported yet",
                 *req.transactional_id);
    resp.error = protocol::ErrorCode::kInvalidRequest;
  } else if (auto id = request->broker.producer_ids().Allocate(); id.ok()) {
    resp.producer_id = id->value();
    resp.producer_epoch = 0;
  } else {
    spdlog::error("cannot allocate a producer id: {}", id.status().ToString());
    resp.error = protocol::ErrorCode::kCoordinatorNotAvailable;  // retriable: the client asks again
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeInitProducerIdResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
