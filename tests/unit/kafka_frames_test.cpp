// The fault proxy's frame parsing (src/chaos/kafka_frames.h): the ports advertised by Metadata and
// FindCoordinator responses are rewritten exactly where they are, in every version the proxy claims, and a
// payload cut short is refused without a read past its end (ASan watches).
#include "chaos/kafka_frames.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "protocol/messages/group.h"
#include "protocol/messages/metadata.h"
#include "protocol/writer.h"

namespace oncemq::chaos {
namespace {

using protocol::Writer;

constexpr uint16_t kBroker = 9092;
constexpr uint16_t kProxy = 19092;
constexpr uint16_t kOther = 7000;

// A response payload: correlation_id, the header's tags when flexible, then the body.
template <typename Body>
Bytes Payload(bool flexible, Body&& body) {
  Writer w;
  w.Int32(42);
  if (flexible) w.EmptyTaggedFields();
  body(w);
  return w.Take();
}

Bytes FindCoordinatorV0ToV2(int16_t version, int32_t port) {
  return Payload(false, [&](Writer& w) {
    protocol::FindCoordinatorResponse r;  // the encoder writes throttle_time_ms from v1
    r.node_id = 1;
    r.host = "127.0.0.1";
    r.port = port;
    protocol::EncodeFindCoordinatorResponse(w, r, version);
  });
}

Bytes FindCoordinatorV3(int32_t port) {
  return Payload(true, [&](Writer& w) {
    w.Int32(0);                     // throttle_time_ms
    w.Int16(0);                     // error_code
    w.CompactString(std::nullopt);  // error_message
    w.Int32(1);                     // node_id
    w.CompactString("127.0.0.1");   // host
    w.Int32(port);
    w.EmptyTaggedFields();
  });
}

Bytes FindCoordinatorV4(const std::vector<int32_t>& ports) {
  return Payload(true, [&](Writer& w) {
    w.Int32(0);  // throttle_time_ms
    w.CompactArrayCount(static_cast<int32_t>(ports.size()));
    for (int32_t port : ports) {
      w.CompactString("billing");    // key
      w.Int32(1);                    // node_id
      w.CompactString("127.0.0.1");  // host
      w.Int32(port);
      w.Int16(0);                     // error_code
      w.CompactString(std::nullopt);  // error_message
      w.EmptyTaggedFields();
    }
    w.EmptyTaggedFields();
  });
}

Bytes Metadata(int16_t version, const std::vector<int32_t>& ports) {
  return Payload(false, [&](Writer& w) {
    protocol::MetadataResponse r;
    for (size_t i = 0; i < ports.size(); ++i)
      r.brokers.push_back({static_cast<int32_t>(i), "127.0.0.1", ports[i]});
    r.topics.push_back({protocol::ErrorCode::kNone, "payments", {{protocol::ErrorCode::kNone, 0, 0}}});
    protocol::EncodeMetadataResponse(w, r, version);
  });
}

// Rewrites `in` and expects `expected` bytes and `count` rewrites. Every prefix that cuts into what the
// rewrite must read fails; only the response's trailing tagged fields (`unread` bytes, which hold no port)
// may be missing.
void ExpectRewrite(int (*rewrite)(uint8_t*, size_t, int16_t, uint16_t, uint16_t), int16_t version, Bytes in,
                   const Bytes& expected, int count, size_t unread = 0) {
  Bytes whole = in;
  EXPECT_EQ(rewrite(whole.data(), whole.size(), version, kBroker, kProxy), count) << "version " << version;
  EXPECT_EQ(whole, expected) << "version " << version;
  for (size_t n = 0; n + unread < in.size(); ++n) {
    Bytes cut(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(rewrite(cut.data(), cut.size(), version, kBroker, kProxy), -1)
        << "version " << version << ", " << n << " bytes";
  }
}

TEST(KafkaFrames, FindCoordinatorPortIsRewrittenInEveryVersion) {
  for (int16_t v = 0; v <= 2; ++v) {
    ExpectRewrite(RewriteCoordinatorPorts, v, FindCoordinatorV0ToV2(v, kBroker),
                  FindCoordinatorV0ToV2(v, kProxy), 1);
  }
  ExpectRewrite(RewriteCoordinatorPorts, 3, FindCoordinatorV3(kBroker), FindCoordinatorV3(kProxy), 1, 1);
  ExpectRewrite(RewriteCoordinatorPorts, 4, FindCoordinatorV4({kBroker, kOther, kBroker}),
                FindCoordinatorV4({kProxy, kOther, kProxy}), 2, 1);
}

TEST(KafkaFrames, AnotherBrokersPortIsLeftAlone) {
  ExpectRewrite(RewriteCoordinatorPorts, 2, FindCoordinatorV0ToV2(2, kOther),
                FindCoordinatorV0ToV2(2, kOther), 0);
  ExpectRewrite(RewriteCoordinatorPorts, 4, FindCoordinatorV4({}), FindCoordinatorV4({}), 0, 1);
}

TEST(KafkaFrames, MetadataBrokerPortsAreRewrittenInEveryVersionTheBrokerSpeaks) {
  for (int16_t v = 0; v <= 6; ++v) {
    // Topics follow the brokers and are not parsed: a prefix cut inside them still rewrites the ports.
    Bytes in = Metadata(v, {kBroker, kOther});
    Bytes expected = Metadata(v, {kProxy, kOther});
    EXPECT_EQ(RewriteMetadataPorts(in.data(), in.size(), v, kBroker, kProxy), 1) << "version " << v;
    EXPECT_EQ(in, expected) << "version " << v;
    Bytes others = Metadata(v, {kOther});
    EXPECT_EQ(RewriteMetadataPorts(others.data(), others.size(), v, kBroker, kProxy), 0) << "version " << v;
    EXPECT_EQ(others, Metadata(v, {kOther})) << "version " << v;
    Bytes cut = Metadata(v, {kBroker, kOther});
    cut.resize(cut.size() / 4);  // inside the broker list
    EXPECT_EQ(RewriteMetadataPorts(cut.data(), cut.size(), v, kBroker, kProxy), -1) << "version " << v;
  }
}

TEST(KafkaFrames, ProduceWithAcksZeroExpectsNoResponse) {
  for (int16_t acks : {int16_t{0}, int16_t{1}, int16_t{-1}}) {
    Writer w;
    w.Int16(0);  // api_key Produce
    w.Int16(7);  // api_version
    w.Int32(5);  // correlation_id
    w.String("client");
    w.NullableString(std::nullopt);  // transactional_id
    w.Int16(acks);
    const Bytes request = w.Take();
    const auto header = ParseRequest(request.data(), request.size());
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->correlation_id, 5);
    EXPECT_EQ(header->expects_response, acks != 0) << "acks " << acks;
  }
  const uint8_t too_short[5] = {0, 0, 0, 7, 0};
  EXPECT_FALSE(ParseRequest(too_short, sizeof(too_short)).has_value());
}

}  // namespace
}  // namespace oncemq::chaos
