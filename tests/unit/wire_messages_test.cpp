// Request decoders and response encoders for every API version the broker advertises, against bytes
// written by hand from kafka-protocol.md §0–§4 (never produced by the code under test).
//
// Each request case is decoded and every field the decoder exposes is checked; the decoder must consume
// the whole body (fields it drops, such as Fetch's session_id or rack_id, are covered that way), and
// every strict prefix of the body must fail. Each response case is encoded and compared byte for byte.
// WireApiTable.EveryAdvertisedVersionHasHandWrittenBytes ties these tables to protocol/supported_apis.cpp.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "broker/api_table.h"
#include "protocol/messages/admin.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "protocol/request_header.h"
#include "protocol/supported_apis.h"
#include "wire_test_expect.h"
#include "wire_test_util.h"

namespace oncemq::protocol {
namespace {

using wire_test::Case;
using wire_test::DecodeWhole;
using wire_test::Encoded;
using wire_test::ExpectEveryPrefixFails;
using wire_test::Hex;
using wire_test::HexOf;
using wire_test::Str;
using wire_test::ToHex;
using wire_test::Versions;

using SV = std::string_view;
using OptSV = std::optional<std::string_view>;

// =========================================================================================================
// Request and response headers (§1)

TEST(WireHeaders, RequestHeaderV1) {
  Bytes in = Hex("0003 | 0004 | 0a0b0c0d | 0003 'rdk' | 12345678");
  Reader r(in);
  RequestHeader h = DecodeRequestHeader(r, /*flexible=*/false);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(h.api_key, 3);
  EXPECT_EQ(h.api_version, 4);
  EXPECT_EQ(h.correlation_id, 0x0a0b0c0d);
  EXPECT_EQ(h.client_id, OptSV("rdk"));
  EXPECT_EQ(r.Int32(), 0x12345678);  // the reader is left at the body
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireHeaders, RequestHeaderV1NullClientId) {
  Bytes in = Hex("0000 | 0007 | ffffffff | ffff");
  Reader r(in);
  RequestHeader h = DecodeRequestHeader(r, /*flexible=*/false);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(h.api_key, 0);
  EXPECT_EQ(h.api_version, 7);
  EXPECT_EQ(h.correlation_id, -1);
  EXPECT_EQ(h.client_id, std::nullopt);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireHeaders, RequestHeaderV2KeepsInt16ClientIdThenTagBuffer) {
  // librdkafka's first request: ApiVersions v3 with header v2. client_id is a classic INT16 string.
  Bytes in = Hex("0012 | 0003 | 00000001 | 000a 'librdkafka' | 00 | 0b 'librdkafka' 06 '2.0.2' 00");
  Reader r(in);
  RequestHeader h = DecodeRequestHeader(r, /*flexible=*/true);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(h.api_key, 18);
  EXPECT_EQ(h.api_version, 3);
  EXPECT_EQ(h.correlation_id, 1);
  EXPECT_EQ(h.client_id, OptSV("librdkafka"));
  EXPECT_EQ(r.position(), 21u);
  ApiVersionsRequest req = DecodeApiVersionsRequest(r, 3);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(req.client_software_name, OptSV("librdkafka"));
  EXPECT_EQ(req.client_software_version, OptSV("2.0.2"));
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireHeaders, RequestHeaderV2SkipsUnknownTags) {
  Bytes in = Hex("0012 | 0003 | 00000002 | ffff | 02 05 02 abcd 00 00 | 7e");
  Reader r(in);
  RequestHeader h = DecodeRequestHeader(r, /*flexible=*/true);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(h.client_id, std::nullopt);
  EXPECT_EQ(r.Int8(), 0x7e);
}

TEST(WireHeaders, TruncatedRequestHeadersFail) {
  Bytes v1 = Hex("0003 0004 0a0b0c0d 0003 'rdk'");
  Bytes v2 = Hex("0012 0003 00000001 000a 'librdkafka' 01 00 01 ff");
  ExpectEveryPrefixFails(v1, 1, [](Reader& r, int16_t) { DecodeRequestHeader(r, false); });
  ExpectEveryPrefixFails(v2, 2, [](Reader& r, int16_t) { DecodeRequestHeader(r, true); });
}

TEST(WireHeaders, EncodeRequestHeaderKnownBytes) {
  RequestHeader h{3, 4, 0x0a0b0c0d, "rdk"};
  Writer v1;
  EncodeRequestHeader(v1, h, false);
  EXPECT_EQ(ToHex(v1.bytes()), HexOf("0003 0004 0a0b0c0d 0003 'rdk'"));
  Writer v2;
  h.client_id = std::nullopt;
  EncodeRequestHeader(v2, h, true);
  EXPECT_EQ(ToHex(v2.bytes()), HexOf("0003 0004 0a0b0c0d ffff 00"));
}

TEST(WireHeaders, ResponseHeaderV0HasNoTagBuffer) {
  Writer v0;
  EncodeResponseHeader(v0, 0x0a0b0c0d, false);
  EXPECT_EQ(ToHex(v0.bytes()), "0a 0b 0c 0d");
  Writer v1;
  EncodeResponseHeader(v1, 0x0a0b0c0d, true);
  EXPECT_EQ(ToHex(v1.bytes()), "0a 0b 0c 0d 00");
}

TEST(WireHeaders, PeekHeaderPrefixReadsEightBytesOnly) {
  // An ApiVersions v5 request whose body (and client_id) we cannot parse: the prefix is still readable.
  Bytes in = Hex("0012 | 0005 | 00000009 | 7fff");
  auto p = PeekHeaderPrefix(in);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->api_key, 18);
  EXPECT_EQ(p->api_version, 5);
  EXPECT_EQ(p->correlation_id, 9);
  for (size_t cut = 0; cut < 8; ++cut) EXPECT_FALSE(PeekHeaderPrefix(ByteView(in).first(cut))) << cut;
}

// =========================================================================================================
// ApiVersions (key 18), v0–v3 (§2)

const Case kApiVersionsRequests[] = {
    {0, ""},
    {1, ""},
    {2, ""},
    {3, "0b 'librdkafka' | 06 '2.0.2' | 00"},
};

TEST(WireApiVersions, RequestV0ToV2HaveEmptyBodies) {
  for (const auto& c : kApiVersionsRequests) {
    if (c.version >= 3) continue;
    Bytes in = Hex(c.hex);
    ApiVersionsRequest req = DecodeWhole(in, c.version, DecodeApiVersionsRequest);
    EXPECT_EQ(req.client_software_name, std::nullopt);
    EXPECT_EQ(req.client_software_version, std::nullopt);
  }
}

TEST(WireApiVersions, RequestV3IsCompactStringsAndTags) {
  Bytes in = Hex(kApiVersionsRequests[3].hex);
  ApiVersionsRequest req = DecodeWhole(in, 3, DecodeApiVersionsRequest);
  EXPECT_EQ(req.client_software_name, OptSV("librdkafka"));
  EXPECT_EQ(req.client_software_version, OptSV("2.0.2"));
  ExpectEveryPrefixFails(in, 3, DecodeApiVersionsRequest);
}

TEST(WireApiVersions, RequestV3SkipsUnknownTagsAndAcceptsNulls) {
  Bytes in = Hex("00 | 01 | 01 07 03 aabbcc");
  ApiVersionsRequest req = DecodeWhole(in, 3, DecodeApiVersionsRequest);
  EXPECT_EQ(req.client_software_name, std::nullopt);
  EXPECT_EQ(req.client_software_version, OptSV(""));
}

const Case kApiVersionsResponses[] = {
    {0, "0000 | 00000002 | 0000 0003 0007 | 0012 0000 0003"},
    {1, "0000 | 00000002 | 0000 0003 0007 | 0012 0000 0003 | 00000000"},
    {2, "0000 | 00000002 | 0000 0003 0007 | 0012 0000 0003 | 00000000"},
    // v3: compact array (N+1), a tag byte per entry, throttle, then the body's tag buffer.
    {3, "0000 | 03 | 0000 0003 0007 00 | 0012 0000 0003 00 | 00000000 | 00"},
};

TEST(WireApiVersions, ResponseKnownBytes) {
  ApiVersionsResponse resp;
  resp.apis = {{0, 3, 7}, {18, 0, 3}};
  for (const auto& c : kApiVersionsResponses) {
    EXPECT_EQ(Encoded(EncodeApiVersionsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireApiVersions, UnsupportedVersionAnswerIsV0Shaped) {
  ApiVersionsResponse resp;
  resp.error = ErrorCode::kUnsupportedVersion;
  resp.apis = {{18, 0, 3}};
  EXPECT_EQ(Encoded(EncodeApiVersionsResponse, resp, 0), HexOf("0023 | 00000001 | 0012 0000 0003"));
}

TEST(WireApiVersions, V3FrameHasResponseHeaderV0) {
  // What librdkafka parses: correlation id, then straight into the flexible body (no header tag byte).
  ApiVersionsResponse resp;
  resp.apis = {{18, 0, 3}};
  Writer w;
  EncodeResponseHeader(w, 1, /*flexible=*/false);
  EncodeApiVersionsResponse(w, resp, 3);
  EXPECT_EQ(ToHex(w.bytes()), HexOf("00000001 | 0000 | 02 | 0012 0000 0003 00 | 00000000 | 00"));
}

// =========================================================================================================
// Metadata (key 3), v0–v6 (§4.4)

const Case kMetadataRequests[] = {
    {0, "00000002 | 0002 't1' | 0003 'abc'"},      {1, "00000002 | 0002 't1' | 0003 'abc'"},
    {2, "00000002 | 0002 't1' | 0003 'abc'"},      {3, "00000002 | 0002 't1' | 0003 'abc'"},
    {4, "00000002 | 0002 't1' | 0003 'abc' | 00"}, {5, "00000002 | 0002 't1' | 0003 'abc' | 00"},
    {6, "00000002 | 0002 't1' | 0003 'abc' | 00"},
};

TEST(WireMetadata, RequestKnownBytes) {
  for (const auto& c : kMetadataRequests) {
    Bytes in = Hex(c.hex);
    MetadataRequest req = DecodeWhole(in, c.version, DecodeMetadataRequest);
    ASSERT_TRUE(req.topics.has_value()) << "v" << c.version;
    EXPECT_EQ(*req.topics, (std::vector<SV>{"t1", "abc"})) << "v" << c.version;
    // allow_auto_topic_creation is on the wire from v4 (sent false here); earlier versions imply true.
    EXPECT_EQ(req.allow_auto_topic_creation, c.version < 4) << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeMetadataRequest);
  }
}

TEST(WireMetadata, V0EmptyListMeansAllTopics) {
  Bytes in = Hex("00000000");
  MetadataRequest req = DecodeWhole(in, 0, DecodeMetadataRequest);
  EXPECT_EQ(req.topics, std::nullopt);
  EXPECT_TRUE(req.allow_auto_topic_creation);
}

TEST(WireMetadata, V1PlusNullMeansAllAndEmptyMeansNone) {
  for (int16_t v = 1; v <= 6; ++v) {
    std::string flag = v >= 4 ? " 01" : "";
    Bytes null_list = Hex("ffffffff" + flag);
    MetadataRequest all = DecodeWhole(null_list, v, DecodeMetadataRequest);
    EXPECT_EQ(all.topics, std::nullopt) << "v" << v;
    EXPECT_TRUE(all.allow_auto_topic_creation) << "v" << v;

    Bytes empty_list = Hex("00000000" + flag);
    MetadataRequest none = DecodeWhole(empty_list, v, DecodeMetadataRequest);
    ASSERT_TRUE(none.topics.has_value()) << "v" << v;
    EXPECT_TRUE(none.topics->empty()) << "v" << v;
  }
}

TEST(WireMetadata, HugeTopicCountFailsWithoutAllocating) {
  for (int16_t v = 0; v <= 6; ++v) {
    Bytes in = Hex("7fffffff | 0002 't1' | 01");
    Reader r(in);
    MetadataRequest req = DecodeMetadataRequest(r, v);
    EXPECT_FALSE(r.ok());
    if (req.topics) {
      EXPECT_EQ(req.topics->capacity(), 0u);  // nothing reserved for the claimed count
    }
  }
}

// One broker (node 1, "h":9092), cluster "c", controller 1; topic t1 (partition 2 led by node 1) and an
// unknown topic zz (error 3 before the name, no partitions).
const Case kMetadataResponses[] = {
    {0,
     "00000001 | 00000001 0001 'h' 00002384"
     "| 00000002"
     "| 0000 0002 't1' 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001"
     "| 0003 0002 'zz' 00000000"},
    {1,
     "00000001 | 00000001 0001 'h' 00002384 ffff"
     "| 00000001"
     "| 00000002"
     "| 0000 0002 't1' 00 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001"
     "| 0003 0002 'zz' 00 00000000"},
    {2,
     "00000001 | 00000001 0001 'h' 00002384 ffff"
     "| 0001 'c' | 00000001"
     "| 00000002"
     "| 0000 0002 't1' 00 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001"
     "| 0003 0002 'zz' 00 00000000"},
    {3,
     "00000000"
     "| 00000001 | 00000001 0001 'h' 00002384 ffff"
     "| 0001 'c' | 00000001"
     "| 00000002"
     "| 0000 0002 't1' 00 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001"
     "| 0003 0002 'zz' 00 00000000"},
    {4,
     "00000000"
     "| 00000001 | 00000001 0001 'h' 00002384 ffff"
     "| 0001 'c' | 00000001"
     "| 00000002"
     "| 0000 0002 't1' 00 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001"
     "| 0003 0002 'zz' 00 00000000"},
    {5,
     "00000000"
     "| 00000001 | 00000001 0001 'h' 00002384 ffff"
     "| 0001 'c' | 00000001"
     "| 00000002"
     "| 0000 0002 't1' 00 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001 00000000"
     "| 0003 0002 'zz' 00 00000000"},
    {6,
     "00000000"
     "| 00000001 | 00000001 0001 'h' 00002384 ffff"
     "| 0001 'c' | 00000001"
     "| 00000002"
     "| 0000 0002 't1' 00 00000001 | 0000 00000002 00000001 00000001 00000001 00000001 00000001 00000000"
     "| 0003 0002 'zz' 00 00000000"},
};

TEST(WireMetadata, ResponseKnownBytes) {
  MetadataResponse resp;
  resp.brokers = {{1, "h", 9092}};
  resp.cluster_id = "c";
  resp.controller_id = 1;
  resp.topics = {{ErrorCode::kNone, "t1", {{ErrorCode::kNone, 2, 1}}},
                 {ErrorCode::kUnknownTopicOrPartition, "zz", {}}};
  for (const auto& c : kMetadataResponses) {
    EXPECT_EQ(Encoded(EncodeMetadataResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// Produce (key 0), v3–v7 (§4.1): one request layout for all five versions.

// transactional_id null, acks -1, timeout 30000; topic t1 with partition 2 ("abc") and 7 (null records).
const Case kProduceRequests[] = {
    {3,
     "ffff | ffff | 00007530 | 00000001 | 0002 't1' 00000002 | 00000002 00000003 'abc' | 00000007 ffffffff"},
    {4,
     "ffff | ffff | 00007530 | 00000001 | 0002 't1' 00000002 | 00000002 00000003 'abc' | 00000007 ffffffff"},
    {5,
     "ffff | ffff | 00007530 | 00000001 | 0002 't1' 00000002 | 00000002 00000003 'abc' | 00000007 ffffffff"},
    {6,
     "ffff | ffff | 00007530 | 00000001 | 0002 't1' 00000002 | 00000002 00000003 'abc' | 00000007 ffffffff"},
    {7,
     "ffff | ffff | 00007530 | 00000001 | 0002 't1' 00000002 | 00000002 00000003 'abc' | 00000007 ffffffff"},
};

TEST(WireProduce, RequestKnownBytes) {
  for (const auto& c : kProduceRequests) {
    Bytes in = Hex(c.hex);
    ProduceRequest req = DecodeWhole(in, c.version, DecodeProduceRequest);
    EXPECT_EQ(req.transactional_id, std::nullopt);
    EXPECT_EQ(req.acks, -1);
    EXPECT_EQ(req.timeout_ms, 30000);
    ASSERT_EQ(req.topics.size(), 1u);
    EXPECT_EQ(req.topics[0].name, "t1");
    ASSERT_EQ(req.topics[0].partitions.size(), 2u);
    EXPECT_EQ(req.topics[0].partitions[0].index, 2);
    EXPECT_EQ(Str(req.topics[0].partitions[0].records), "abc");
    // The records view points into the frame (the broker rewrites base offsets in place).
    EXPECT_EQ(req.topics[0].partitions[0].records->data(), in.data() + 28);
    EXPECT_EQ(req.topics[0].partitions[1].index, 7);
    EXPECT_EQ(req.topics[0].partitions[1].records, std::nullopt);
    ExpectEveryPrefixFails(in, c.version, DecodeProduceRequest);
  }
}

TEST(WireProduce, RequestWithTransactionalIdAndNoTopics) {
  Bytes in = Hex("0002 'tx' | 0001 | 000003e8 | 00000000");
  ProduceRequest req = DecodeWhole(in, 7, DecodeProduceRequest);
  EXPECT_EQ(req.transactional_id, OptSV("tx"));
  EXPECT_EQ(req.acks, 1);
  EXPECT_EQ(req.timeout_ms, 1000);
  EXPECT_TRUE(req.topics.empty());
}

TEST(WireProduce, HugeCountsFailWithoutAllocating) {
  for (const char* hex : {"ffff 0001 00000000 | 7fffffff | 0002 't1'",
                          "ffff 0001 00000000 | 00000001 | 0002 't1' 7fffffff 00000000 00000000"}) {
    Bytes in = Hex(hex);
    Reader r(in);
    ProduceRequest req = DecodeProduceRequest(r, 7);
    EXPECT_FALSE(r.ok()) << hex;
    for (const auto& t : req.topics) EXPECT_TRUE(t.partitions.empty());
    EXPECT_LE(req.topics.capacity(), 1u);
  }
}

// Topic t1, partition 2: no error, base offset 42, log_append_time 1700000000000, log_start_offset 5.
const Case kProduceResponses[] = {
    {3, "00000001 | 0002 't1' 00000001 | 00000002 0000 000000000000002a 0000018bcfe56800 | 00000000"},
    {4, "00000001 | 0002 't1' 00000001 | 00000002 0000 000000000000002a 0000018bcfe56800 | 00000000"},
    {5,
     "00000001 | 0002 't1' 00000001 | 00000002 0000 000000000000002a 0000018bcfe56800 0000000000000005"
     "| 00000000"},
    {6,
     "00000001 | 0002 't1' 00000001 | 00000002 0000 000000000000002a 0000018bcfe56800 0000000000000005"
     "| 00000000"},
    {7,
     "00000001 | 0002 't1' 00000001 | 00000002 0000 000000000000002a 0000018bcfe56800 0000000000000005"
     "| 00000000"},
};

TEST(WireProduce, ResponseKnownBytesWithThrottleLast) {
  ProduceResponse resp;
  resp.topics = {{"t1", {{2, ErrorCode::kNone, 42, 1700000000000, 5}}}};
  for (const auto& c : kProduceResponses) {
    EXPECT_EQ(Encoded(EncodeProduceResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireProduce, ErrorResponseKnownBytes) {
  ProduceResponse resp;
  resp.topics = {{"t1", {{0, ErrorCode::kOutOfOrderSequenceNumber, -1, -1, -1}}}};
  EXPECT_EQ(Encoded(EncodeProduceResponse, resp, 7),
            HexOf("00000001 | 0002 't1' 00000001 | 00000000 002d ffffffffffffffff ffffffffffffffff "
                  "ffffffffffffffff | 00000000"));
}

// =========================================================================================================
// Fetch (key 1), v4–v11 (§4.2)

// replica -1, max_wait 500, min_bytes 1, max_bytes 52428800, read_committed; [v7+ session 0, epoch -1];
// topic t1: partition 2 from offset 100 (max 1 MiB), partition 3 from offset 0 (max 1 KiB), with
// [v9+ current_leader_epoch -1 / 5] and [v5+ log_start_offset -1 / 0]; [v7+ forgotten t9 [1, 2]];
// [v11 rack_id "r1"].
const Case kFetchRequests[] = {
    {4,
     "ffffffff 000001f4 00000001 03200000 01"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000000000000064 00100000"
     "| 00000003 0000000000000000 00000400"},
    {5,
     "ffffffff 000001f4 00000001 03200000 01"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 0000000000000000 0000000000000000 00000400"},
    {6,
     "ffffffff 000001f4 00000001 03200000 01"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 0000000000000000 0000000000000000 00000400"},
    {7,
     "ffffffff 000001f4 00000001 03200000 01 | 00000000 ffffffff"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 0000000000000000 0000000000000000 00000400"
     "| 00000001 0002 't9' 00000002 00000001 00000002"},
    {8,
     "ffffffff 000001f4 00000001 03200000 01 | 00000000 ffffffff"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 0000000000000000 0000000000000000 00000400"
     "| 00000001 0002 't9' 00000002 00000001 00000002"},
    {9,
     "ffffffff 000001f4 00000001 03200000 01 | 00000000 ffffffff"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 ffffffff 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 00000005 0000000000000000 0000000000000000 00000400"
     "| 00000001 0002 't9' 00000002 00000001 00000002"},
    {10,
     "ffffffff 000001f4 00000001 03200000 01 | 00000000 ffffffff"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 ffffffff 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 00000005 0000000000000000 0000000000000000 00000400"
     "| 00000001 0002 't9' 00000002 00000001 00000002"},
    {11,
     "ffffffff 000001f4 00000001 03200000 01 | 00000000 ffffffff"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 ffffffff 0000000000000064 ffffffffffffffff 00100000"
     "| 00000003 00000005 0000000000000000 0000000000000000 00000400"
     "| 00000001 0002 't9' 00000002 00000001 00000002"
     "| 0002 'r1'"},
};

TEST(WireFetch, RequestKnownBytes) {
  for (const auto& c : kFetchRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    FetchRequest req = DecodeWhole(in, c.version, DecodeFetchRequest);
    EXPECT_EQ(req.max_wait_ms, 500);
    EXPECT_EQ(req.min_bytes, 1);
    EXPECT_EQ(req.max_bytes, 52428800);
    EXPECT_EQ(req.isolation_level, 1);
    ASSERT_EQ(req.topics.size(), 1u);
    EXPECT_EQ(req.topics[0].name, "t1");
    ASSERT_EQ(req.topics[0].partitions.size(), 2u);
    const FetchPartition& a = req.topics[0].partitions[0];
    const FetchPartition& b = req.topics[0].partitions[1];
    EXPECT_EQ(a.partition, 2);
    EXPECT_EQ(a.fetch_offset, 100);
    EXPECT_EQ(a.partition_max_bytes, 1048576);
    EXPECT_EQ(b.partition, 3);
    EXPECT_EQ(b.fetch_offset, 0);
    EXPECT_EQ(b.partition_max_bytes, 1024);
    ExpectEveryPrefixFails(in, c.version, DecodeFetchRequest);
  }
}

TEST(WireFetch, HugeCountsFailWithoutAllocating) {
  for (const char* hex : {
           "ffffffff 000001f4 00000001 03200000 00 00000000 ffffffff | 7fffffff | 0002 't1'",
           "ffffffff 000001f4 00000001 03200000 00 00000000 ffffffff | 00000001 0002 't1' 7fffffff 00",
           "ffffffff 000001f4 00000001 03200000 00 00000000 ffffffff | 00000000 | 7fffffff 0002 't9' 0000",
       }) {
    Bytes in = Hex(hex);
    Reader r(in);
    FetchRequest req = DecodeFetchRequest(r, 11);
    EXPECT_FALSE(r.ok()) << hex;
    EXPECT_LE(req.topics.capacity(), 1u);
    for (const auto& t : req.topics) EXPECT_TRUE(t.partitions.empty());
  }
}

// Topic t1: partition 2 (no error, HWM 100, log start 5, records "abc"); partition 3 (OFFSET_OUT_OF_RANGE,
// HWM 9, log start 4, empty records). LSO = HWM; aborted_transactions empty; [v11] preferred replica -1.
const Case kFetchResponses[] = {
    {4,
     "00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 00000000 00000000"},
    {5,
     "00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 00000000"},
    {6,
     "00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 00000000"},
    {7,
     "00000000 | 0000 | 00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 00000000"},
    {8,
     "00000000 | 0000 | 00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 00000000"},
    {9,
     "00000000 | 0000 | 00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 00000000"},
    {10,
     "00000000 | 0000 | 00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 00000000"},
    {11,
     "00000000 | 0000 | 00000000"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 0000 0000000000000064 0000000000000064 0000000000000005 00000000 ffffffff 00000003 'abc'"
     "| 00000003 0001 0000000000000009 0000000000000009 0000000000000004 00000000 ffffffff 00000000"},
};

TEST(WireFetch, ResponseKnownBytesWithThrottleFirst) {
  Bytes abc = Hex("'abc'");
  FetchResponse resp;
  resp.topics = {
      {"t1",
       {{2, ErrorCode::kNone, 100, 5, ByteView(abc)}, {3, ErrorCode::kOffsetOutOfRange, 9, 4, ByteView{}}}}};
  for (const auto& c : kFetchResponses) {
    EXPECT_EQ(Encoded(EncodeFetchResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireFetch, ResponseWithNoTopicsEndsAfterTheCount) {
  FetchResponse resp;
  EXPECT_EQ(Encoded(EncodeFetchResponse, resp, 11), HexOf("00000000 | 0000 | 00000000 | 00000000"));
  EXPECT_EQ(Encoded(EncodeFetchResponse, resp, 4), HexOf("00000000 | 00000000"));
}

// =========================================================================================================
// ListOffsets (key 2), v0–v3 (§4.3)

// replica -1, [v2+ read_committed]; topic t1: partition 2 earliest (-2), partition 3 at 1700000000000;
// [v0 max_num_offsets 1].
const Case kListOffsetsRequests[] = {
    {0,
     "ffffffff | 00000001 | 0002 't1' 00000002"
     "| 00000002 fffffffffffffffe 00000001 | 00000003 0000018bcfe56800 00000001"},
    {1,
     "ffffffff | 00000001 | 0002 't1' 00000002"
     "| 00000002 fffffffffffffffe | 00000003 0000018bcfe56800"},
    {2,
     "ffffffff 01 | 00000001 | 0002 't1' 00000002"
     "| 00000002 fffffffffffffffe | 00000003 0000018bcfe56800"},
    {3,
     "ffffffff 01 | 00000001 | 0002 't1' 00000002"
     "| 00000002 fffffffffffffffe | 00000003 0000018bcfe56800"},
};

TEST(WireListOffsets, RequestKnownBytes) {
  for (const auto& c : kListOffsetsRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    ListOffsetsRequest req = DecodeWhole(in, c.version, DecodeListOffsetsRequest);
    EXPECT_EQ(req.isolation_level, c.version >= 2 ? 1 : 0);
    ASSERT_EQ(req.topics.size(), 1u);
    EXPECT_EQ(req.topics[0].name, "t1");
    ASSERT_EQ(req.topics[0].partitions.size(), 2u);
    EXPECT_EQ(req.topics[0].partitions[0].partition, 2);
    EXPECT_EQ(req.topics[0].partitions[0].timestamp, kEarliestTimestamp);
    EXPECT_EQ(req.topics[0].partitions[1].partition, 3);
    EXPECT_EQ(req.topics[0].partitions[1].timestamp, 1700000000000);
    ExpectEveryPrefixFails(in, c.version, DecodeListOffsetsRequest);
  }
}

// Topic t1: partition 2 latest → offset 42 (timestamp -1); partition 3 timestamp query with no match
// (offset -1); partition 4 unknown (error 3). v0 carries offsets as old_style_offsets ARRAY[INT64].
const Case kListOffsetsResponses[] = {
    {0,
     "00000001 | 0002 't1' 00000003"
     "| 00000002 0000 00000001 000000000000002a"
     "| 00000003 0000 00000000"
     "| 00000004 0003 00000000"},
    {1,
     "00000001 | 0002 't1' 00000003"
     "| 00000002 0000 ffffffffffffffff 000000000000002a"
     "| 00000003 0000 ffffffffffffffff ffffffffffffffff"
     "| 00000004 0003 ffffffffffffffff ffffffffffffffff"},
    {2,
     "00000000 | 00000001 | 0002 't1' 00000003"
     "| 00000002 0000 ffffffffffffffff 000000000000002a"
     "| 00000003 0000 ffffffffffffffff ffffffffffffffff"
     "| 00000004 0003 ffffffffffffffff ffffffffffffffff"},
    {3,
     "00000000 | 00000001 | 0002 't1' 00000003"
     "| 00000002 0000 ffffffffffffffff 000000000000002a"
     "| 00000003 0000 ffffffffffffffff ffffffffffffffff"
     "| 00000004 0003 ffffffffffffffff ffffffffffffffff"},
};

TEST(WireListOffsets, ResponseKnownBytes) {
  ListOffsetsResponse resp;
  resp.topics = {{"t1",
                  {{2, ErrorCode::kNone, -1, 42},
                   {3, ErrorCode::kNone, -1, -1},
                   {4, ErrorCode::kUnknownTopicOrPartition, -1, -1}}}};
  for (const auto& c : kListOffsetsResponses) {
    EXPECT_EQ(Encoded(EncodeListOffsetsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireListOffsets, V1ResponseCarriesTheFoundTimestamp) {
  ListOffsetsResponse resp;
  resp.topics = {{"t1", {{3, ErrorCode::kNone, 1700000000000, 7}}}};
  EXPECT_EQ(Encoded(EncodeListOffsetsResponse, resp, 1),
            HexOf("00000001 | 0002 't1' 00000001 | 00000003 0000 0000018bcfe56800 0000000000000007"));
}

// =========================================================================================================
// CreateTopics (key 19), v0–v4 (§4.14)

// t1: 3 partitions, RF 1, one manual assignment (partition 0 → broker 1), configs cleanup.policy=compact
// and retention.ms=null; t2: -1 / -1 defaults, nothing else. timeout 30000, [v1+ validate_only true].
#define CREATE_TOPICS_V0                                                     \
  "00000002"                                                                 \
  "| 0002 't1' 00000003 0001 | 00000001 00000000 00000001 00000001"          \
  "| 00000002 000e 'cleanup.policy' 0007 'compact' 000c 'retention.ms' ffff" \
  "| 0002 't2' ffffffff ffff 00000000 00000000"                              \
  "| 00007530"

const Case kCreateTopicsRequests[] = {
    {0, CREATE_TOPICS_V0},        {1, CREATE_TOPICS_V0 "| 01"}, {2, CREATE_TOPICS_V0 "| 01"},
    {3, CREATE_TOPICS_V0 "| 01"}, {4, CREATE_TOPICS_V0 "| 01"},
};
#undef CREATE_TOPICS_V0

TEST(WireCreateTopics, RequestKnownBytes) {
  for (const auto& c : kCreateTopicsRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    CreateTopicsRequest req = DecodeWhole(in, c.version, DecodeCreateTopicsRequest);
    ASSERT_EQ(req.topics.size(), 2u);
    const CreatableTopic& t1 = req.topics[0];
    EXPECT_EQ(t1.name, "t1");
    EXPECT_EQ(t1.num_partitions, 3);
    EXPECT_EQ(t1.replication_factor, 1);
    EXPECT_EQ(t1.assignments, 1);
    ASSERT_EQ(t1.configs.size(), 2u);
    EXPECT_EQ(t1.configs[0].name, "cleanup.policy");
    EXPECT_EQ(t1.configs[0].value, OptSV("compact"));
    EXPECT_EQ(t1.configs[1].name, "retention.ms");
    EXPECT_EQ(t1.configs[1].value, std::nullopt);
    const CreatableTopic& t2 = req.topics[1];
    EXPECT_EQ(t2.name, "t2");
    EXPECT_EQ(t2.num_partitions, -1);
    EXPECT_EQ(t2.replication_factor, -1);
    EXPECT_EQ(t2.assignments, 0);
    EXPECT_TRUE(t2.configs.empty());
    EXPECT_EQ(req.timeout_ms, 30000);
    EXPECT_EQ(req.validate_only, c.version >= 1);
    ExpectEveryPrefixFails(in, c.version, DecodeCreateTopicsRequest);
  }
}

// t1: TOPIC_ALREADY_EXISTS (36) with message "exists"; t2: no error, null message.
const Case kCreateTopicsResponses[] = {
    {0, "00000002 | 0002 't1' 0024 | 0002 't2' 0000"},
    {1, "00000002 | 0002 't1' 0024 0006 'exists' | 0002 't2' 0000 ffff"},
    {2, "00000000 | 00000002 | 0002 't1' 0024 0006 'exists' | 0002 't2' 0000 ffff"},
    {3, "00000000 | 00000002 | 0002 't1' 0024 0006 'exists' | 0002 't2' 0000 ffff"},
    {4, "00000000 | 00000002 | 0002 't1' 0024 0006 'exists' | 0002 't2' 0000 ffff"},
};

TEST(WireCreateTopics, ResponseKnownBytes) {
  CreateTopicsResponse resp;
  resp.topics = {{"t1", ErrorCode::kTopicAlreadyExists, "exists"}, {"t2", ErrorCode::kNone, std::nullopt}};
  for (const auto& c : kCreateTopicsResponses) {
    EXPECT_EQ(Encoded(EncodeCreateTopicsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// DeleteTopics (key 20), v0–v3 (§4.15): one request layout.

const Case kDeleteTopicsRequests[] = {
    {0, "00000002 | 0002 't1' | 0003 'abc' | 00007530"},
    {1, "00000002 | 0002 't1' | 0003 'abc' | 00007530"},
    {2, "00000002 | 0002 't1' | 0003 'abc' | 00007530"},
    {3, "00000002 | 0002 't1' | 0003 'abc' | 00007530"},
};

TEST(WireDeleteTopics, RequestKnownBytes) {
  for (const auto& c : kDeleteTopicsRequests) {
    Bytes in = Hex(c.hex);
    DeleteTopicsRequest req = DecodeWhole(in, c.version, DecodeDeleteTopicsRequest);
    EXPECT_EQ(req.names, (std::vector<SV>{"t1", "abc"})) << "v" << c.version;
    EXPECT_EQ(req.timeout_ms, 30000) << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeDeleteTopicsRequest);
  }
}

const Case kDeleteTopicsResponses[] = {
    {0, "00000002 | 0002 't1' 0000 | 0003 'abc' 0003"},
    {1, "00000000 | 00000002 | 0002 't1' 0000 | 0003 'abc' 0003"},
    {2, "00000000 | 00000002 | 0002 't1' 0000 | 0003 'abc' 0003"},
    {3, "00000000 | 00000002 | 0002 't1' 0000 | 0003 'abc' 0003"},
};

TEST(WireDeleteTopics, ResponseKnownBytes) {
  DeleteTopicsResponse resp;
  resp.topics = {{"t1", ErrorCode::kNone, std::nullopt}, {"abc", ErrorCode::kUnknownTopicOrPartition, "x"}};
  for (const auto& c : kDeleteTopicsResponses) {
    EXPECT_EQ(Encoded(EncodeDeleteTopicsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// InitProducerId (key 22), v0–v1 (§4.6): identical layouts; throttle first in the response.

const Case kInitProducerIdRequests[] = {
    {0, "ffff | ffffffff"},
    {1, "ffff | 0000ea60"},
};

TEST(WireInitProducerId, RequestKnownBytes) {
  for (const auto& c : kInitProducerIdRequests) {
    Bytes in = Hex(c.hex);
    InitProducerIdRequest req = DecodeWhole(in, c.version, DecodeInitProducerIdRequest);
    EXPECT_FALSE(req.transactional_id.has_value()) << "v" << c.version;
    EXPECT_EQ(req.transaction_timeout_ms, c.version == 0 ? -1 : 60000) << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeInitProducerIdRequest);
  }
}

TEST(WireInitProducerId, TransactionalIdIsRead) {
  Bytes in = Hex("0003 'tx1' | 0000ea60");
  InitProducerIdRequest req = DecodeWhole(in, 1, DecodeInitProducerIdRequest);
  ASSERT_TRUE(req.transactional_id.has_value());
  EXPECT_EQ(*req.transactional_id, "tx1");
}

const Case kInitProducerIdResponses[] = {
    {0, "00000000 | 0000 | 0000000000001234 | 0000"},
    {1, "00000000 | 0000 | 0000000000001234 | 0000"},
};

TEST(WireInitProducerId, ResponseKnownBytes) {
  InitProducerIdResponse resp{ErrorCode::kNone, 0x1234, 0};
  for (const auto& c : kInitProducerIdResponses) {
    EXPECT_EQ(Encoded(EncodeInitProducerIdResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// DescribeConfigs (key 32), v0–v2 (§4.16)

// TOPIC t1 asking for cleanup.policy; BROKER "1" with null keys (all); TOPIC t2 with an empty key list;
// [v1+ include_synonyms true].
const Case kDescribeConfigsRequests[] = {
    {0,
     "00000003 | 02 0002 't1' 00000001 000e 'cleanup.policy' | 04 0001 '1' ffffffff"
     "| 02 0002 't2' 00000000"},
    {1,
     "00000003 | 02 0002 't1' 00000001 000e 'cleanup.policy' | 04 0001 '1' ffffffff"
     "| 02 0002 't2' 00000000 | 01"},
    {2,
     "00000003 | 02 0002 't1' 00000001 000e 'cleanup.policy' | 04 0001 '1' ffffffff"
     "| 02 0002 't2' 00000000 | 01"},
};

TEST(WireDescribeConfigs, RequestKnownBytes) {
  for (const auto& c : kDescribeConfigsRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    DescribeConfigsRequest req = DecodeWhole(in, c.version, DecodeDescribeConfigsRequest);
    ASSERT_EQ(req.resources.size(), 3u);
    EXPECT_EQ(req.resources[0].resource_type, 2);
    EXPECT_EQ(req.resources[0].resource_name, "t1");
    ASSERT_TRUE(req.resources[0].keys.has_value());
    EXPECT_EQ(*req.resources[0].keys, std::vector<SV>{"cleanup.policy"});
    EXPECT_EQ(req.resources[1].resource_type, 4);
    EXPECT_EQ(req.resources[1].resource_name, "1");
    EXPECT_EQ(req.resources[1].keys, std::nullopt);
    EXPECT_EQ(req.resources[2].resource_name, "t2");
    ASSERT_TRUE(req.resources[2].keys.has_value());
    EXPECT_TRUE(req.resources[2].keys->empty());
    ExpectEveryPrefixFails(in, c.version, DecodeDescribeConfigsRequest);
  }
}

// Result 1: TOPIC t1, three configs: cleanup.policy=compact (DYNAMIC_TOPIC), retention.ms=null read-only
// (DEFAULT), segment.bytes=1024 (STATIC_BROKER). Result 2: t9 with error 3 "unknown" and no configs.
// v0 writes is_default (true only for DEFAULT); v1+ write config_source and an empty synonyms array.
const Case kDescribeConfigsResponses[] = {
    {0,
     "00000000 | 00000002"
     "| 0000 ffff 02 0002 't1' 00000003"
     "| 000e 'cleanup.policy' 0007 'compact' 00 00 00"
     "| 000c 'retention.ms' ffff 01 01 00"
     "| 000d 'segment.bytes' 0004 '1024' 00 00 00"
     "| 0003 0007 'unknown' 02 0002 't9' 00000000"},
    {1,
     "00000000 | 00000002"
     "| 0000 ffff 02 0002 't1' 00000003"
     "| 000e 'cleanup.policy' 0007 'compact' 00 01 00 00000000"
     "| 000c 'retention.ms' ffff 01 05 00 00000000"
     "| 000d 'segment.bytes' 0004 '1024' 00 04 00 00000000"
     "| 0003 0007 'unknown' 02 0002 't9' 00000000"},
    {2,
     "00000000 | 00000002"
     "| 0000 ffff 02 0002 't1' 00000003"
     "| 000e 'cleanup.policy' 0007 'compact' 00 01 00 00000000"
     "| 000c 'retention.ms' ffff 01 05 00 00000000"
     "| 000d 'segment.bytes' 0004 '1024' 00 04 00 00000000"
     "| 0003 0007 'unknown' 02 0002 't9' 00000000"},
};

TEST(WireDescribeConfigs, ResponseKnownBytes) {
  DescribeConfigsResponse resp;
  DescribeConfigsResult ok;
  ok.resource_type = 2;
  ok.resource_name = "t1";
  ok.configs = {{"cleanup.policy", "compact", false, ConfigSource::kDynamicTopic},
                {"retention.ms", std::nullopt, true, ConfigSource::kDefault},
                {"segment.bytes", "1024", false, ConfigSource::kStaticBroker}};
  DescribeConfigsResult missing;
  missing.error = ErrorCode::kUnknownTopicOrPartition;
  missing.message = "unknown";
  missing.resource_type = 2;
  missing.resource_name = "t9";
  resp.results = {ok, missing};
  for (const auto& c : kDescribeConfigsResponses) {
    EXPECT_EQ(Encoded(EncodeDescribeConfigsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// The API table: every advertised version has hand-written request and response bytes above.

TEST(WireApiTable, AdvertisesTheSpecRanges) {
  // kafka-protocol.md §3.2 "advertise" column, as implemented (OffsetFetch from v0, DescribeGroups up to
  // its non-flexible v4); all at or below each non-flexible max except ApiVersions v3.
  const std::map<int16_t, std::pair<int16_t, int16_t>> expected = {
      {0, {3, 7}},  {1, {4, 11}}, {2, {0, 3}},  {3, {0, 6}},  {8, {0, 7}},  {9, {0, 5}},  {10, {0, 2}},
      {11, {0, 5}}, {12, {0, 3}}, {13, {0, 2}}, {14, {0, 3}}, {15, {0, 4}}, {16, {0, 2}}, {18, {0, 3}},
      {19, {0, 4}}, {20, {0, 3}}, {22, {0, 1}}, {32, {0, 2}}, {42, {0, 1}},
  };
  std::map<int16_t, std::pair<int16_t, int16_t>> actual;
  for (const auto& api : protocol::SupportedApis()) {
    actual[static_cast<int16_t>(api.key)] = {api.min_version, api.max_version};
    const bool only_apiversions_flexible = api.key == ApiKey::kApiVersions;
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      EXPECT_EQ(api.Flexible(v), only_apiversions_flexible && v >= 3)
          << "api " << static_cast<int>(api.key) << " v" << v;
    }
  }
  EXPECT_EQ(actual, expected);
}

TEST(WireApiTable, EveryAdvertisedVersionHasHandWrittenBytes) {
  using Covered = wire_test::CoveredVersions;
  std::map<ApiKey, Covered> covered = {
      {ApiKey::kProduce, {Versions(kProduceRequests), Versions(kProduceResponses)}},
      {ApiKey::kFetch, {Versions(kFetchRequests), Versions(kFetchResponses)}},
      {ApiKey::kListOffsets, {Versions(kListOffsetsRequests), Versions(kListOffsetsResponses)}},
      {ApiKey::kMetadata, {Versions(kMetadataRequests), Versions(kMetadataResponses)}},
      {ApiKey::kApiVersions, {Versions(kApiVersionsRequests), Versions(kApiVersionsResponses)}},
      {ApiKey::kCreateTopics, {Versions(kCreateTopicsRequests), Versions(kCreateTopicsResponses)}},
      {ApiKey::kDeleteTopics, {Versions(kDeleteTopicsRequests), Versions(kDeleteTopicsResponses)}},
      {ApiKey::kDescribeConfigs, {Versions(kDescribeConfigsRequests), Versions(kDescribeConfigsResponses)}},
      {ApiKey::kInitProducerId, {Versions(kInitProducerIdRequests), Versions(kInitProducerIdResponses)}},
  };
  for (auto& [key, versions] : wire_test::GroupMessagesCoverage()) {
    EXPECT_TRUE(covered.emplace(key, std::move(versions)).second) << "api " << static_cast<int>(key);
  }
  for (const auto& api : protocol::SupportedApis()) {
    auto it = covered.find(api.key);
    ASSERT_NE(it, covered.end()) << "no wire test for api " << static_cast<int>(api.key);
    std::set<int16_t> advertised;
    for (int16_t v = api.min_version; v <= api.max_version; ++v) advertised.insert(v);
    EXPECT_EQ(it->second.requests, advertised) << "request cases, api " << static_cast<int>(api.key);
    EXPECT_EQ(it->second.responses, advertised) << "response cases, api " << static_cast<int>(api.key);
  }
}

TEST(WireApiTable, FindApiKnowsOnlyTheTable) {
  for (const auto& api : protocol::SupportedApis())
    EXPECT_EQ(protocol::FindSupportedApi(static_cast<int16_t>(api.key)), &api);
  for (int16_t key : {-1, 4, 17, 36, 1000}) EXPECT_EQ(protocol::FindSupportedApi(key), nullptr) << key;
}

TEST(WireApiTable, EverySupportedApiHasAHandler) {
  for (const auto& api : protocol::SupportedApis()) {
    EXPECT_NE(broker::HandlerFor(api.key), nullptr) << "api " << static_cast<int>(api.key);
  }
}

}  // namespace
}  // namespace oncemq::protocol
