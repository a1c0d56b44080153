#include "protocol/messages/api_versions.h"
#include "broker/api_table.h"
#include "protocol/supported_apis.h"

namespace oncemq::broker {

Reply HandleApiVersions(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  protocol::DecodeApiVersionsRequest(r, request->version());
  // The client software fields are informational; a v3 body we cannot read still gets our versions,
  // because refusing here would make librdkafka fall back to pre-0.10 features.
  protocol::ApiVersionsResponse resp;
  for (const auto& api : protocol::SupportedApis()) {
    resp.apis.push_back({static_cast<int16_t>(api.key), api.min_version, api.max_version});
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeApiVersionsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
