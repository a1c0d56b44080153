// Consumer-group and committed-offset codecs (protocol/messages/group.h, offsets.h) for every version the
// broker advertises, against bytes written by hand from kafka-protocol.md §4.7–§4.13 and Apache Kafka's
// message JSON schemas (never produced by the code under test).
//
// As in wire_messages_test.cpp: each request case is decoded whole with every exposed field checked, and
// every strict prefix must fail; each response case is encoded and compared byte for byte. The tables are
// reported to WireApiTable.EveryAdvertisedVersionHasHandWrittenBytes through GroupMessagesCoverage().
#include <gtest/gtest.h>

#include <climits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages/group.h"
#include "protocol/messages/offsets.h"
#include "wire_test_expect.h"
#include "wire_test_util.h"

namespace oncemq::protocol {
namespace {

using wire_test::Case;
using wire_test::DecodeWhole;
using wire_test::Encoded;
using wire_test::ExpectDecodeFails;
using wire_test::ExpectEveryPrefixFails;
using wire_test::Hex;
using wire_test::HexOf;
using wire_test::Str;
using wire_test::Versions;

using SV = std::string_view;
using OptSV = std::optional<std::string_view>;

ByteView View(std::string_view s) {
  return AsBytes(s);
}

// =========================================================================================================
// FindCoordinator (key 10), v0–v2 (§4.7)

// key "g1"; [v1+ key_type 1 = TRANSACTION, so the decoder visibly reads it].
const Case kFindCoordinatorRequests[] = {
    {0, "0002 'g1'"},
    {1, "0002 'g1' | 01"},
    {2, "0002 'g1' | 01"},
};

TEST(WireFindCoordinator, RequestKnownBytes) {
  for (const auto& c : kFindCoordinatorRequests) {
    Bytes in = Hex(c.hex);
    FindCoordinatorRequest req = DecodeWhole(in, c.version, DecodeFindCoordinatorRequest);
    EXPECT_EQ(req.key, "g1") << "v" << c.version;
    EXPECT_EQ(req.key_type, c.version == 0 ? kCoordinatorKeyGroup : kCoordinatorKeyTransaction)
        << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeFindCoordinatorRequest);
  }
}

// Node 1 at "h":9092, no error; [v1+ throttle 0 first, null error_message after the error code].
const Case kFindCoordinatorResponses[] = {
    {0, "0000 | 00000001 | 0001 'h' | 00002384"},
    {1, "00000000 | 0000 | ffff | 00000001 | 0001 'h' | 00002384"},
    {2, "00000000 | 0000 | ffff | 00000001 | 0001 'h' | 00002384"},
};

TEST(WireFindCoordinator, ResponseKnownBytes) {
  FindCoordinatorResponse resp;
  resp.node_id = 1;
  resp.host = "h";
  resp.port = 9092;
  for (const auto& c : kFindCoordinatorResponses) {
    EXPECT_EQ(Encoded(EncodeFindCoordinatorResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireFindCoordinator, ErrorMessageOnlyFromV1) {
  FindCoordinatorResponse resp;
  resp.error = ErrorCode::kCoordinatorNotAvailable;
  resp.error_message = "no txn";
  resp.host = "";
  EXPECT_EQ(Encoded(EncodeFindCoordinatorResponse, resp, 0), HexOf("000f | ffffffff | 0000 | ffffffff"));
  EXPECT_EQ(Encoded(EncodeFindCoordinatorResponse, resp, 2),
            HexOf("00000000 | 000f | 0006 'no txn' | ffffffff | 0000 | ffffffff"));
}

// =========================================================================================================
// JoinGroup (key 11), v0–v5 (§4.8)

// group g1, session 45000, [v1+ rebalance 300000], member m1, [v5 instance i1], protocol type consumer;
// protocols range (metadata "abc") and roundrobin (empty metadata).
const Case kJoinGroupRequests[] = {
    {0,
     "0002 'g1' | 0000afc8 | 0002 'm1' | 0008 'consumer'"
     "| 00000002 | 0005 'range' 00000003 'abc' | 000a 'roundrobin' 00000000"},
    {1,
     "0002 'g1' | 0000afc8 | 000493e0 | 0002 'm1' | 0008 'consumer'"
     "| 00000002 | 0005 'range' 00000003 'abc' | 000a 'roundrobin' 00000000"},
    {2,
     "0002 'g1' | 0000afc8 | 000493e0 | 0002 'm1' | 0008 'consumer'"
     "| 00000002 | 0005 'range' 00000003 'abc' | 000a 'roundrobin' 00000000"},
    {3,
     "0002 'g1' | 0000afc8 | 000493e0 | 0002 'm1' | 0008 'consumer'"
     "| 00000002 | 0005 'range' 00000003 'abc' | 000a 'roundrobin' 00000000"},
    {4,
     "0002 'g1' | 0000afc8 | 000493e0 | 0002 'm1' | 0008 'consumer'"
     "| 00000002 | 0005 'range' 00000003 'abc' | 000a 'roundrobin' 00000000"},
    {5,
     "0002 'g1' | 0000afc8 | 000493e0 | 0002 'm1' | 0002 'i1' | 0008 'consumer'"
     "| 00000002 | 0005 'range' 00000003 'abc' | 000a 'roundrobin' 00000000"},
};

TEST(WireJoinGroup, RequestKnownBytes) {
  for (const auto& c : kJoinGroupRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    JoinGroupRequest req = DecodeWhole(in, c.version, DecodeJoinGroupRequest);
    EXPECT_EQ(req.group_id, "g1");
    EXPECT_EQ(req.session_timeout_ms, 45000);
    // v0 has no rebalance timeout on the wire: the session timeout stands in for it.
    EXPECT_EQ(req.rebalance_timeout_ms, c.version == 0 ? 45000 : 300000);
    EXPECT_EQ(req.member_id, "m1");
    EXPECT_EQ(req.group_instance_id, c.version >= 5 ? OptSV("i1") : std::nullopt);
    EXPECT_EQ(req.protocol_type, "consumer");
    ASSERT_EQ(req.protocols.size(), 2u);
    EXPECT_EQ(req.protocols[0].name, "range");
    EXPECT_EQ(Str(req.protocols[0].metadata), "abc");
    EXPECT_EQ(req.protocols[0].metadata.data(), in.data() + in.size() - 19);  // a view into the frame
    EXPECT_EQ(req.protocols[1].name, "roundrobin");
    EXPECT_TRUE(req.protocols[1].metadata.empty());
    ExpectEveryPrefixFails(in, c.version, DecodeJoinGroupRequest);
  }
}

TEST(WireJoinGroup, V5NullInstanceIdAndFirstJoin) {
  Bytes in = Hex("0002 'g1' 0000afc8 000493e0 | 0000 | ffff | 0008 'consumer' 00000000");
  JoinGroupRequest req = DecodeWhole(in, 5, DecodeJoinGroupRequest);
  EXPECT_EQ(req.member_id, "");
  EXPECT_EQ(req.group_instance_id, std::nullopt);
  EXPECT_TRUE(req.protocols.empty());
}

TEST(WireJoinGroup, MalformedRequestsFail) {
  // A null protocols array, a null metadata, a count larger than the body could hold.
  ExpectDecodeFails(Hex("0002 'g1' 0000afc8 000493e0 0000 0008 'consumer' ffffffff"), 1,
                    DecodeJoinGroupRequest);
  ExpectDecodeFails(Hex("0002 'g1' 0000afc8 000493e0 0000 0008 'consumer' 00000001 0005 'range' ffffffff"), 1,
                    DecodeJoinGroupRequest);
  Bytes huge = Hex("0002 'g1' 0000afc8 000493e0 0000 0008 'consumer' 7fffffff 0005 'range' 00000000");
  Reader r(huge);
  JoinGroupRequest req = DecodeJoinGroupRequest(r, 1);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(req.protocols.capacity(), 0u);
}

// Leader's answer: generation 3, protocol range, leader m1 (itself); members m1 ([v5] instance i1,
// metadata "abc") and m2 ([v5] null instance, empty metadata). [v2+ throttle 0 first.]
const Case kJoinGroupResponses[] = {
    {0,
     "0000 | 00000003 | 0005 'range' | 0002 'm1' | 0002 'm1'"
     "| 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {1,
     "0000 | 00000003 | 0005 'range' | 0002 'm1' | 0002 'm1'"
     "| 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {2,
     "00000000 | 0000 | 00000003 | 0005 'range' | 0002 'm1' | 0002 'm1'"
     "| 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {3,
     "00000000 | 0000 | 00000003 | 0005 'range' | 0002 'm1' | 0002 'm1'"
     "| 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {4,
     "00000000 | 0000 | 00000003 | 0005 'range' | 0002 'm1' | 0002 'm1'"
     "| 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {5,
     "00000000 | 0000 | 00000003 | 0005 'range' | 0002 'm1' | 0002 'm1'"
     "| 00000002 | 0002 'm1' 0002 'i1' 00000003 'abc' | 0002 'm2' ffff 00000000"},
};

TEST(WireJoinGroup, ResponseKnownBytes) {
  JoinGroupResponse resp;
  resp.generation_id = 3;
  resp.protocol_name = "range";
  resp.leader = "m1";
  resp.member_id = "m1";
  resp.members = {{"m1", "i1", View("abc")}, {"m2", std::nullopt, ByteView{}}};
  for (const auto& c : kJoinGroupResponses) {
    EXPECT_EQ(Encoded(EncodeJoinGroupResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireJoinGroup, MemberIdRequiredAnswer) {
  // v4: MEMBER_ID_REQUIRED (79), generation -1, empty (never null) protocol name and leader, no members.
  JoinGroupResponse resp;
  resp.error = ErrorCode::kMemberIdRequired;
  resp.member_id = "m-x";
  EXPECT_EQ(Encoded(EncodeJoinGroupResponse, resp, 4),
            HexOf("00000000 | 004f | ffffffff | 0000 | 0000 | 0003 'm-x' | 00000000"));
}

// =========================================================================================================
// SyncGroup (key 14), v0–v3 (§4.9)

// group g1, generation 3, member m1, [v3 instance i1]; the leader's assignments: m1 "abc", m2 empty.
const Case kSyncGroupRequests[] = {
    {0, "0002 'g1' | 00000003 | 0002 'm1' | 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {1, "0002 'g1' | 00000003 | 0002 'm1' | 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {2, "0002 'g1' | 00000003 | 0002 'm1' | 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
    {3,
     "0002 'g1' | 00000003 | 0002 'm1' | 0002 'i1'"
     "| 00000002 | 0002 'm1' 00000003 'abc' | 0002 'm2' 00000000"},
};

TEST(WireSyncGroup, RequestKnownBytes) {
  for (const auto& c : kSyncGroupRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    SyncGroupRequest req = DecodeWhole(in, c.version, DecodeSyncGroupRequest);
    EXPECT_EQ(req.group_id, "g1");
    EXPECT_EQ(req.generation_id, 3);
    EXPECT_EQ(req.member_id, "m1");
    EXPECT_EQ(req.group_instance_id, c.version >= 3 ? OptSV("i1") : std::nullopt);
    ASSERT_EQ(req.assignments.size(), 2u);
    EXPECT_EQ(req.assignments[0].member_id, "m1");
    EXPECT_EQ(Str(req.assignments[0].assignment), "abc");
    EXPECT_EQ(req.assignments[1].member_id, "m2");
    EXPECT_TRUE(req.assignments[1].assignment.empty());
    ExpectEveryPrefixFails(in, c.version, DecodeSyncGroupRequest);
  }
}

TEST(WireSyncGroup, FollowerSendsNoAssignments) {
  Bytes in = Hex("0002 'g1' | 00000003 | 0002 'm2' | ffff | 00000000");
  SyncGroupRequest req = DecodeWhole(in, 3, DecodeSyncGroupRequest);
  EXPECT_EQ(req.member_id, "m2");
  EXPECT_EQ(req.group_instance_id, std::nullopt);
  EXPECT_TRUE(req.assignments.empty());
}

TEST(WireSyncGroup, NullAssignmentsOrBytesFail) {
  ExpectDecodeFails(Hex("0002 'g1' 00000003 0002 'm1' ffffffff"), 0, DecodeSyncGroupRequest);
  ExpectDecodeFails(Hex("0002 'g1' 00000003 0002 'm1' 00000001 0002 'm1' ffffffff"), 0,
                    DecodeSyncGroupRequest);
}

// No error, this member's assignment "abc"; [v1+ throttle 0 first].
const Case kSyncGroupResponses[] = {
    {0, "0000 | 00000003 'abc'"},
    {1, "00000000 | 0000 | 00000003 'abc'"},
    {2, "00000000 | 0000 | 00000003 'abc'"},
    {3, "00000000 | 0000 | 00000003 'abc'"},
};

TEST(WireSyncGroup, ResponseKnownBytes) {
  SyncGroupResponse resp{ErrorCode::kNone, View("abc")};
  for (const auto& c : kSyncGroupResponses) {
    EXPECT_EQ(Encoded(EncodeSyncGroupResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireSyncGroup, ErrorAnswerHasEmptyAssignment) {
  SyncGroupResponse resp{ErrorCode::kRebalanceInProgress, ByteView{}};
  EXPECT_EQ(Encoded(EncodeSyncGroupResponse, resp, 1), HexOf("00000000 | 001b | 00000000"));
}

// =========================================================================================================
// Heartbeat (key 12), v0–v3 (§4.10)

// group g1, generation 3, member m1, [v3 null instance].
const Case kHeartbeatRequests[] = {
    {0, "0002 'g1' | 00000003 | 0002 'm1'"},
    {1, "0002 'g1' | 00000003 | 0002 'm1'"},
    {2, "0002 'g1' | 00000003 | 0002 'm1'"},
    {3, "0002 'g1' | 00000003 | 0002 'm1' | ffff"},
};

TEST(WireHeartbeat, RequestKnownBytes) {
  for (const auto& c : kHeartbeatRequests) {
    Bytes in = Hex(c.hex);
    HeartbeatRequest req = DecodeWhole(in, c.version, DecodeHeartbeatRequest);
    EXPECT_EQ(req.group_id, "g1") << "v" << c.version;
    EXPECT_EQ(req.generation_id, 3) << "v" << c.version;
    EXPECT_EQ(req.member_id, "m1") << "v" << c.version;
    EXPECT_EQ(req.group_instance_id, std::nullopt) << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeHeartbeatRequest);
  }
}

TEST(WireHeartbeat, V3ReadsTheInstanceId) {
  Bytes in = Hex("0002 'g1' | ffffffff | 0000 | 0002 'i1'");
  HeartbeatRequest req = DecodeWhole(in, 3, DecodeHeartbeatRequest);
  EXPECT_EQ(req.generation_id, -1);
  EXPECT_EQ(req.member_id, "");
  EXPECT_EQ(req.group_instance_id, OptSV("i1"));
}

// REBALANCE_IN_PROGRESS (27); [v1+ throttle 0 first].
const Case kHeartbeatResponses[] = {
    {0, "001b"},
    {1, "00000000 | 001b"},
    {2, "00000000 | 001b"},
    {3, "00000000 | 001b"},
};

TEST(WireHeartbeat, ResponseKnownBytes) {
  ErrorOnlyResponse resp{ErrorCode::kRebalanceInProgress};
  for (const auto& c : kHeartbeatResponses) {
    EXPECT_EQ(Encoded(EncodeHeartbeatResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// LeaveGroup (key 13), v0–v2 (§4.11): one request layout.

const Case kLeaveGroupRequests[] = {
    {0, "0002 'g1' | 0002 'm1'"},
    {1, "0002 'g1' | 0002 'm1'"},
    {2, "0002 'g1' | 0002 'm1'"},
};

TEST(WireLeaveGroup, RequestKnownBytes) {
  for (const auto& c : kLeaveGroupRequests) {
    Bytes in = Hex(c.hex);
    LeaveGroupRequest req = DecodeWhole(in, c.version, DecodeLeaveGroupRequest);
    EXPECT_EQ(req.group_id, "g1") << "v" << c.version;
    EXPECT_EQ(req.member_id, "m1") << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeLeaveGroupRequest);
  }
}

// UNKNOWN_MEMBER_ID (25); [v1+ throttle 0 first].
const Case kLeaveGroupResponses[] = {
    {0, "0019"},
    {1, "00000000 | 0019"},
    {2, "00000000 | 0019"},
};

TEST(WireLeaveGroup, ResponseKnownBytes) {
  ErrorOnlyResponse resp{ErrorCode::kUnknownMemberId};
  for (const auto& c : kLeaveGroupResponses) {
    EXPECT_EQ(Encoded(EncodeLeaveGroupResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// DescribeGroups (key 15), v0–v4 (DescribeGroupsRequest/Response.json)

// groups g1 and abc; [v3+ include_authorized_operations true].
const Case kDescribeGroupsRequests[] = {
    {0, "00000002 | 0002 'g1' | 0003 'abc'"},      {1, "00000002 | 0002 'g1' | 0003 'abc'"},
    {2, "00000002 | 0002 'g1' | 0003 'abc'"},      {3, "00000002 | 0002 'g1' | 0003 'abc' | 01"},
    {4, "00000002 | 0002 'g1' | 0003 'abc' | 01"},
};

TEST(WireDescribeGroups, RequestKnownBytes) {
  for (const auto& c : kDescribeGroupsRequests) {
    Bytes in = Hex(c.hex);
    DescribeGroupsRequest req = DecodeWhole(in, c.version, DecodeDescribeGroupsRequest);
    EXPECT_EQ(req.groups, (std::vector<SV>{"g1", "abc"})) << "v" << c.version;
    EXPECT_EQ(req.include_authorized_operations, c.version >= 3) << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeDescribeGroupsRequest);
  }
}

TEST(WireDescribeGroups, NullOrHugeGroupListFails) {
  for (int16_t v = 0; v <= 4; ++v) {
    ExpectDecodeFails(Hex("ffffffff 01"), v, DecodeDescribeGroupsRequest);
    ExpectDecodeFails(Hex("7fffffff 0002 'g1' 01"), v, DecodeDescribeGroupsRequest);
  }
}

// g1: Stable, consumer/range, one member m1 ([v4] instance i1), client rdk at /127.0.0.1, metadata "abc",
// assignment "xy", [v3+ authorized_operations INT32_MIN = not requested]. zz: GROUP_ID_NOT_FOUND (69),
// Dead, no members, [v3+ authorized_operations 8]. [v1+ throttle 0 first.]
const Case kDescribeGroupsResponses[] = {
    {0,
     "00000002"
     "| 0000 0002 'g1' 0006 'Stable' 0008 'consumer' 0005 'range'"
     "| 00000001 | 0002 'm1' 0003 'rdk' 000a '/127.0.0.1' 00000003 'abc' 00000002 'xy'"
     "| 0045 0002 'zz' 0004 'Dead' 0000 0000 | 00000000"},
    {1,
     "00000000 | 00000002"
     "| 0000 0002 'g1' 0006 'Stable' 0008 'consumer' 0005 'range'"
     "| 00000001 | 0002 'm1' 0003 'rdk' 000a '/127.0.0.1' 00000003 'abc' 00000002 'xy'"
     "| 0045 0002 'zz' 0004 'Dead' 0000 0000 | 00000000"},
    {2,
     "00000000 | 00000002"
     "| 0000 0002 'g1' 0006 'Stable' 0008 'consumer' 0005 'range'"
     "| 00000001 | 0002 'm1' 0003 'rdk' 000a '/127.0.0.1' 00000003 'abc' 00000002 'xy'"
     "| 0045 0002 'zz' 0004 'Dead' 0000 0000 | 00000000"},
    {3,
     "00000000 | 00000002"
     "| 0000 0002 'g1' 0006 'Stable' 0008 'consumer' 0005 'range'"
     "| 00000001 | 0002 'm1' 0003 'rdk' 000a '/127.0.0.1' 00000003 'abc' 00000002 'xy'"
     "| 80000000"
     "| 0045 0002 'zz' 0004 'Dead' 0000 0000 | 00000000 | 00000008"},
    {4,
     "00000000 | 00000002"
     "| 0000 0002 'g1' 0006 'Stable' 0008 'consumer' 0005 'range'"
     "| 00000001 | 0002 'm1' 0002 'i1' 0003 'rdk' 000a '/127.0.0.1' 00000003 'abc' 00000002 'xy'"
     "| 80000000"
     "| 0045 0002 'zz' 0004 'Dead' 0000 0000 | 00000000 | 00000008"},
};

TEST(WireDescribeGroups, ResponseKnownBytes) {
  DescribedGroup g1;
  g1.group_id = "g1";
  g1.state = "Stable";
  g1.protocol_type = "consumer";
  g1.protocol_data = "range";
  g1.members = {{"m1", "i1", "rdk", "/127.0.0.1", View("abc"), View("xy")}};
  EXPECT_EQ(g1.authorized_operations, INT32_MIN);  // the default is "not requested"
  DescribedGroup zz;
  zz.error = ErrorCode::kGroupIdNotFound;
  zz.group_id = "zz";
  zz.state = "Dead";
  zz.authorized_operations = 8;
  DescribeGroupsResponse resp;
  resp.groups = {g1, zz};
  for (const auto& c : kDescribeGroupsResponses) {
    EXPECT_EQ(Encoded(EncodeDescribeGroupsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// ListGroups (key 16), v0–v2 (ListGroupsRequest/Response.json): the request body is empty in every
// version, so there is no decoder; the broker reads nothing after the header.

const Case kListGroupsRequests[] = {
    {0, ""},
    {1, ""},
    {2, ""},
};

TEST(WireListGroups, RequestBodiesAreEmpty) {
  for (const auto& c : kListGroupsRequests) EXPECT_TRUE(Hex(c.hex).empty()) << "v" << c.version;
}

// No error; g1 (consumer) and g2 (empty protocol type); [v1+ throttle 0 first].
const Case kListGroupsResponses[] = {
    {0, "0000 | 00000002 | 0002 'g1' 0008 'consumer' | 0002 'g2' 0000"},
    {1, "00000000 | 0000 | 00000002 | 0002 'g1' 0008 'consumer' | 0002 'g2' 0000"},
    {2, "00000000 | 0000 | 00000002 | 0002 'g1' 0008 'consumer' | 0002 'g2' 0000"},
};

TEST(WireListGroups, ResponseKnownBytes) {
  ListGroupsResponse resp;
  resp.groups = {{"g1", "consumer"}, {"g2", ""}};
  for (const auto& c : kListGroupsResponses) {
    EXPECT_EQ(Encoded(EncodeListGroupsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

TEST(WireListGroups, ErrorResponse) {
  ListGroupsResponse resp;
  resp.error = ErrorCode::kCoordinatorLoadInProgress;
  EXPECT_EQ(Encoded(EncodeListGroupsResponse, resp, 2), HexOf("00000000 | 000e | 00000000"));
}

// =========================================================================================================
// DeleteGroups (key 42), v0–v1 (DeleteGroupsRequest/Response.json): one layout; throttle in every version.

const Case kDeleteGroupsRequests[] = {
    {0, "00000002 | 0002 'g1' | 0003 'abc'"},
    {1, "00000002 | 0002 'g1' | 0003 'abc'"},
};

TEST(WireDeleteGroups, RequestKnownBytes) {
  for (const auto& c : kDeleteGroupsRequests) {
    Bytes in = Hex(c.hex);
    DeleteGroupsRequest req = DecodeWhole(in, c.version, DecodeDeleteGroupsRequest);
    EXPECT_EQ(req.groups, (std::vector<SV>{"g1", "abc"})) << "v" << c.version;
    ExpectEveryPrefixFails(in, c.version, DecodeDeleteGroupsRequest);
  }
}

TEST(WireDeleteGroups, NullGroupListFails) {
  ExpectDecodeFails(Hex("ffffffff"), 0, DecodeDeleteGroupsRequest);
  ExpectDecodeFails(Hex("ffffffff"), 1, DecodeDeleteGroupsRequest);
}

// g1 deleted; abc NON_EMPTY_GROUP (68).
const Case kDeleteGroupsResponses[] = {
    {0, "00000000 | 00000002 | 0002 'g1' 0000 | 0003 'abc' 0044"},
    {1, "00000000 | 00000002 | 0002 'g1' 0000 | 0003 'abc' 0044"},
};

TEST(WireDeleteGroups, ResponseKnownBytes) {
  DeleteGroupsResponse resp;
  resp.results = {{"g1", ErrorCode::kNone}, {"abc", ErrorCode::kNonEmptyGroup}};
  for (const auto& c : kDeleteGroupsResponses) {
    EXPECT_EQ(Encoded(EncodeDeleteGroupsResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// OffsetCommit (key 8), v0–v7 (§4.12)

// group g1; [v1+ generation 3, member m1]; [v7 instance i1]; [v2–v4 retention 86400000 ms]; topic t1:
// partition 2 at offset 42 ([v6+ leader epoch 5], [v1 timestamp 1700000000000], metadata "md") and
// partition 3 at offset 100 ([v6+ epoch -1], [v1 timestamp -1], null metadata).
const Case kOffsetCommitRequests[] = {
    {0,
     "0002 'g1'"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md'"
     "| 00000003 0000000000000064 ffff"},
    {1,
     "0002 'g1' | 00000003 | 0002 'm1'"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0000018bcfe56800 0002 'md'"
     "| 00000003 0000000000000064 ffffffffffffffff ffff"},
    {2,
     "0002 'g1' | 00000003 | 0002 'm1' | 0000000005265c00"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md'"
     "| 00000003 0000000000000064 ffff"},
    {3,
     "0002 'g1' | 00000003 | 0002 'm1' | 0000000005265c00"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md'"
     "| 00000003 0000000000000064 ffff"},
    {4,
     "0002 'g1' | 00000003 | 0002 'm1' | 0000000005265c00"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md'"
     "| 00000003 0000000000000064 ffff"},
    {5,
     "0002 'g1' | 00000003 | 0002 'm1'"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md'"
     "| 00000003 0000000000000064 ffff"},
    {6,
     "0002 'g1' | 00000003 | 0002 'm1'"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 00000005 0002 'md'"
     "| 00000003 0000000000000064 ffffffff ffff"},
    {7,
     "0002 'g1' | 00000003 | 0002 'm1' | 0002 'i1'"
     "| 00000001 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 00000005 0002 'md'"
     "| 00000003 0000000000000064 ffffffff ffff"},
};

TEST(WireOffsetCommit, RequestKnownBytes) {
  for (const auto& c : kOffsetCommitRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    const int16_t v = c.version;
    Bytes in = Hex(c.hex);
    OffsetCommitRequest req = DecodeWhole(in, v, DecodeOffsetCommitRequest);
    EXPECT_EQ(req.group_id, "g1");
    EXPECT_EQ(req.generation_id, v >= 1 ? 3 : -1);
    EXPECT_EQ(req.member_id, v >= 1 ? "m1" : "");
    EXPECT_EQ(req.group_instance_id, v >= 7 ? OptSV("i1") : std::nullopt);
    EXPECT_EQ(req.retention_time_ms, v >= 2 && v <= 4 ? 86400000 : -1);
    ASSERT_EQ(req.topics.size(), 1u);
    EXPECT_EQ(req.topics[0].name, "t1");
    ASSERT_EQ(req.topics[0].partitions.size(), 2u);
    const OffsetCommitPartition& p2 = req.topics[0].partitions[0];
    EXPECT_EQ(p2.partition, 2);
    EXPECT_EQ(p2.committed_offset, 42);
    EXPECT_EQ(p2.committed_leader_epoch, v >= 6 ? 5 : -1);
    EXPECT_EQ(p2.commit_timestamp, v == 1 ? 1700000000000 : -1);
    EXPECT_EQ(p2.metadata, OptSV("md"));
    const OffsetCommitPartition& p3 = req.topics[0].partitions[1];
    EXPECT_EQ(p3.partition, 3);
    EXPECT_EQ(p3.committed_offset, 100);
    EXPECT_EQ(p3.committed_leader_epoch, -1);
    EXPECT_EQ(p3.commit_timestamp, -1);
    EXPECT_EQ(p3.metadata, std::nullopt);
    ExpectEveryPrefixFails(in, v, DecodeOffsetCommitRequest);
  }
}

TEST(WireOffsetCommit, SimpleCommitFromOutsideAGroup) {
  // v2: generation -1, member "", retention -1 (the broker's), no topics.
  Bytes in = Hex("0002 'g1' | ffffffff | 0000 | ffffffffffffffff | 00000000");
  OffsetCommitRequest req = DecodeWhole(in, 2, DecodeOffsetCommitRequest);
  EXPECT_EQ(req.generation_id, -1);
  EXPECT_EQ(req.member_id, "");
  EXPECT_EQ(req.retention_time_ms, -1);
  EXPECT_TRUE(req.topics.empty());
}

TEST(WireOffsetCommit, NullOrHugeArraysFail) {
  ExpectDecodeFails(Hex("0002 'g1' ffffffff"), 0, DecodeOffsetCommitRequest);
  ExpectDecodeFails(Hex("0002 'g1' 00000001 0002 't1' ffffffff"), 0, DecodeOffsetCommitRequest);
  // One claimed v6 partition needs 18 bytes (index, offset, epoch, metadata length): 17 are not enough.
  Bytes short_partition =
      Hex("0002 'g1' 00000003 0002 'm1' 00000001 0002 't1' 00000001 | 00000002 0000000000000000 00000000 00");
  Reader r(short_partition);
  OffsetCommitRequest req = DecodeOffsetCommitRequest(r, 6);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(req.topics.size(), 1u);
  EXPECT_TRUE(req.topics[0].partitions.empty());
}

// t1: partition 2 ok, partition 3 OFFSET_METADATA_TOO_LARGE (12); t9: partition 0 UNKNOWN_TOPIC (3).
// [v3+ throttle 0 first.]
const Case kOffsetCommitResponses[] = {
    {0, "00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c | 0002 't9' 00000001 | 00000000 0003"},
    {1, "00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c | 0002 't9' 00000001 | 00000000 0003"},
    {2, "00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c | 0002 't9' 00000001 | 00000000 0003"},
    {3,
     "00000000 | 00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c"
     "| 0002 't9' 00000001 | 00000000 0003"},
    {4,
     "00000000 | 00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c"
     "| 0002 't9' 00000001 | 00000000 0003"},
    {5,
     "00000000 | 00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c"
     "| 0002 't9' 00000001 | 00000000 0003"},
    {6,
     "00000000 | 00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c"
     "| 0002 't9' 00000001 | 00000000 0003"},
    {7,
     "00000000 | 00000002 | 0002 't1' 00000002 | 00000002 0000 | 00000003 000c"
     "| 0002 't9' 00000001 | 00000000 0003"},
};

TEST(WireOffsetCommit, ResponseKnownBytes) {
  OffsetCommitResponse resp;
  resp.topics = {{"t1", {{2, ErrorCode::kNone}, {3, ErrorCode::kOffsetMetadataTooLarge}}},
                 {"t9", {{0, ErrorCode::kUnknownTopicOrPartition}}}};
  for (const auto& c : kOffsetCommitResponses) {
    EXPECT_EQ(Encoded(EncodeOffsetCommitResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

// =========================================================================================================
// OffsetFetch (key 9), v0–v5 (§4.13): one request layout; topics nullable from v2.

// group g1; t1 partitions [2, 3]; abc with no partitions.
const Case kOffsetFetchRequests[] = {
    {0, "0002 'g1' | 00000002 | 0002 't1' 00000002 00000002 00000003 | 0003 'abc' 00000000"},
    {1, "0002 'g1' | 00000002 | 0002 't1' 00000002 00000002 00000003 | 0003 'abc' 00000000"},
    {2, "0002 'g1' | 00000002 | 0002 't1' 00000002 00000002 00000003 | 0003 'abc' 00000000"},
    {3, "0002 'g1' | 00000002 | 0002 't1' 00000002 00000002 00000003 | 0003 'abc' 00000000"},
    {4, "0002 'g1' | 00000002 | 0002 't1' 00000002 00000002 00000003 | 0003 'abc' 00000000"},
    {5, "0002 'g1' | 00000002 | 0002 't1' 00000002 00000002 00000003 | 0003 'abc' 00000000"},
};

TEST(WireOffsetFetch, RequestKnownBytes) {
  for (const auto& c : kOffsetFetchRequests) {
    SCOPED_TRACE("v" + std::to_string(c.version));
    Bytes in = Hex(c.hex);
    OffsetFetchRequest req = DecodeWhole(in, c.version, DecodeOffsetFetchRequest);
    EXPECT_EQ(req.group_id, "g1");
    ASSERT_TRUE(req.topics.has_value());
    ASSERT_EQ(req.topics->size(), 2u);
    EXPECT_EQ((*req.topics)[0].name, "t1");
    EXPECT_EQ((*req.topics)[0].partitions, (std::vector<int32_t>{2, 3}));
    EXPECT_EQ((*req.topics)[1].name, "abc");
    EXPECT_TRUE((*req.topics)[1].partitions.empty());
    ExpectEveryPrefixFails(in, c.version, DecodeOffsetFetchRequest);
  }
}

TEST(WireOffsetFetch, NullTopicsMeanAllFromV2AndAreMalformedBefore) {
  Bytes in = Hex("0002 'g1' | ffffffff");
  for (int16_t v = 0; v <= 1; ++v) ExpectDecodeFails(in, v, DecodeOffsetFetchRequest);
  for (int16_t v = 2; v <= 5; ++v) {
    OffsetFetchRequest req = DecodeWhole(in, v, DecodeOffsetFetchRequest);
    EXPECT_EQ(req.topics, std::nullopt) << "v" << v;
  }
}

TEST(WireOffsetFetch, EmptyTopicListIsNotNull) {
  Bytes in = Hex("0002 'g1' | 00000000");
  OffsetFetchRequest req = DecodeWhole(in, 1, DecodeOffsetFetchRequest);
  ASSERT_TRUE(req.topics.has_value());
  EXPECT_TRUE(req.topics->empty());
}

TEST(WireOffsetFetch, NullOrHugePartitionListFails) {
  ExpectDecodeFails(Hex("0002 'g1' 00000001 0002 't1' ffffffff"), 3, DecodeOffsetFetchRequest);
  ExpectDecodeFails(Hex("0002 'g1' 00000001 0002 't1' 00000002 00000001"), 3, DecodeOffsetFetchRequest);
}

// t1: partition 2 at 42 ([v5] epoch 5, metadata "md"), partition 3 with nothing committed (-1, [v5] -1,
// ""); t9: partition 0 UNKNOWN_TOPIC (3) with null metadata. [v2+ top-level COORDINATOR_LOAD_IN_PROGRESS
// (14) at the end; v3+ throttle 0 first.]
const Case kOffsetFetchResponses[] = {
    {0,
     "00000002 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md' 0000"
     "| 00000003 ffffffffffffffff 0000 0000"
     "| 0002 't9' 00000001 | 00000000 ffffffffffffffff ffff 0003"},
    {1,
     "00000002 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md' 0000"
     "| 00000003 ffffffffffffffff 0000 0000"
     "| 0002 't9' 00000001 | 00000000 ffffffffffffffff ffff 0003"},
    {2,
     "00000002 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md' 0000"
     "| 00000003 ffffffffffffffff 0000 0000"
     "| 0002 't9' 00000001 | 00000000 ffffffffffffffff ffff 0003"
     "| 000e"},
    {3,
     "00000000 | 00000002 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md' 0000"
     "| 00000003 ffffffffffffffff 0000 0000"
     "| 0002 't9' 00000001 | 00000000 ffffffffffffffff ffff 0003"
     "| 000e"},
    {4,
     "00000000 | 00000002 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 0002 'md' 0000"
     "| 00000003 ffffffffffffffff 0000 0000"
     "| 0002 't9' 00000001 | 00000000 ffffffffffffffff ffff 0003"
     "| 000e"},
    {5,
     "00000000 | 00000002 | 0002 't1' 00000002"
     "| 00000002 000000000000002a 00000005 0002 'md' 0000"
     "| 00000003 ffffffffffffffff ffffffff 0000 0000"
     "| 0002 't9' 00000001 | 00000000 ffffffffffffffff ffffffff ffff 0003"
     "| 000e"},
};

TEST(WireOffsetFetch, ResponseKnownBytes) {
  OffsetFetchResponse resp;
  resp.topics = {{"t1", {{2, 42, 5, "md", ErrorCode::kNone}, {3, -1, -1, "", ErrorCode::kNone}}},
                 {"t9", {{0, -1, -1, std::nullopt, ErrorCode::kUnknownTopicOrPartition}}}};
  resp.error = ErrorCode::kCoordinatorLoadInProgress;
  for (const auto& c : kOffsetFetchResponses) {
    EXPECT_EQ(Encoded(EncodeOffsetFetchResponse, resp, c.version), HexOf(c.hex)) << "v" << c.version;
  }
}

}  // namespace

namespace wire_test {

std::map<ApiKey, CoveredVersions> GroupMessagesCoverage() {
  return {
      {ApiKey::kFindCoordinator, {Versions(kFindCoordinatorRequests), Versions(kFindCoordinatorResponses)}},
      {ApiKey::kJoinGroup, {Versions(kJoinGroupRequests), Versions(kJoinGroupResponses)}},
      {ApiKey::kSyncGroup, {Versions(kSyncGroupRequests), Versions(kSyncGroupResponses)}},
      {ApiKey::kHeartbeat, {Versions(kHeartbeatRequests), Versions(kHeartbeatResponses)}},
      {ApiKey::kLeaveGroup, {Versions(kLeaveGroupRequests), Versions(kLeaveGroupResponses)}},
      {ApiKey::kDescribeGroups, {Versions(kDescribeGroupsRequests), Versions(kDescribeGroupsResponses)}},
      {ApiKey::kListGroups, {Versions(kListGroupsRequests), Versions(kListGroupsResponses)}},
      {ApiKey::kDeleteGroups, {Versions(kDeleteGroupsRequests), Versions(kDeleteGroupsResponses)}},
      {ApiKey::kOffsetCommit, {Versions(kOffsetCommitRequests), Versions(kOffsetCommitResponses)}},
      {ApiKey::kOffsetFetch, {Versions(kOffsetFetchRequests), Versions(kOffsetFetchResponses)}},
  };
}

}  // namespace wire_test
}  // namespace oncemq::protocol
