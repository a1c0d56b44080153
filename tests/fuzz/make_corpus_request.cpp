// Writes the seed corpus of fuzz_request: one valid request frame (no size prefix) for every API version
// the broker advertises, named <api>_v<version>. Headers are v1, or v2 for ApiVersions v3; bodies are
// written by hand like those of tests/unit/wire_messages_test.cpp and
// wire_group_messages_test.cpp, and each frame must decode cleanly
// (whole header and body, nothing left over) before it is written.
// Usage: make_corpus_request <dir>   (the checked-in seeds are in tests/fuzz/corpus/request/)
#include <cstdio>
#include <string>

#include "../unit/wire_test_util.h"
#include "corpus_file.h"
#include "protocol/api.h"
#include "protocol/messages/admin.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/group.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offsets.h"
#include "protocol/messages/produce.h"
#include "protocol/request_header.h"

namespace oncemq::protocol {
namespace {

struct Seed {
  const char* name;
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
  std::string (*body)(int16_t version);
};

std::string If(bool present, const char* hex) {
  return present ? hex : "";
}

std::string ApiVersionsBody(int16_t v) {
  return If(v >= 3, "0b 'librdkafka' 06 '2.0.2' 00");
}

std::string MetadataBody(int16_t v) {
  return "00000002 0002 't1' 0003 'abc'" + If(v >= 4, "01");
}

std::string ProduceBody(int16_t) {
  // A real one-record RecordBatch v2 is in tests/fuzz/corpus/record_batch/; the decoder only frames it.
  return "ffff ffff 00007530 00000001 0002 't1' 00000002 00000002 00000003 'abc' 00000007 ffffffff";
}

std::string FetchBody(int16_t v) {
  std::string partition =
      "00000002" + If(v >= 9, "ffffffff") + "0000000000000064" + If(v >= 5, "ffffffffffffffff") + "00100000";
  return "ffffffff 000001f4 00000001 03200000 01" + If(v >= 7, "00000000 ffffffff") +
         "00000001 0002 't1' 00000001" + partition + If(v >= 7, "00000001 0002 't9' 00000001 00000001") +
         If(v >= 11, "0002 'r1'");
}

std::string ListOffsetsBody(int16_t v) {
  return "ffffffff" + If(v >= 2, "01") + "00000001 0002 't1' 00000001 00000002 fffffffffffffffe" +
         If(v == 0, "00000001");
}

std::string CreateTopicsBody(int16_t v) {
  return "00000001 0002 't1' 00000003 0001 00000001 00000000 00000001 00000001"
         "00000002 000e 'cleanup.policy' 0007 'compact' 000c 'retention.ms' ffff 00007530" +
         If(v >= 1, "00");
}

std::string DeleteTopicsBody(int16_t) {
  return "00000002 0002 't1' 0003 'abc' 00007530";
}

std::string DescribeConfigsBody(int16_t v) {
  return "00000002 02 0002 't1' 00000001 000e 'cleanup.policy' 04 0001 '1' ffffffff" + If(v >= 1, "01");
}

std::string InitProducerIdBody(int16_t) {
  return "ffff ffffffff";
}

std::string OffsetCommitBody(int16_t v) {
  std::string partition =
      "00000002 000000000000002a" + If(v >= 6, "00000005") + If(v == 1, "0000018bcfe56800") + "0002 'md'";
  return "0002 'g1'" + If(v >= 1, "00000003 0002 'm1'") + If(v >= 7, "ffff") +
         If(v >= 2 && v <= 4, "ffffffffffffffff") + "00000001 0002 't1' 00000001" + partition;
}

std::string OffsetFetchBody(int16_t v) {
  // v3+ seed the null topic list (all committed partitions, legal from v2); v0-v2 seed an explicit list.
  if (v >= 3) return "0002 'g1' ffffffff";
  return "0002 'g1' 00000002 0002 't1' 00000002 00000002 00000003 0003 'abc' 00000000";
}

std::string FindCoordinatorBody(int16_t v) {
  return "0002 'g1'" + If(v >= 1, "00");
}

std::string JoinGroupBody(int16_t v) {
  return "0002 'g1' 0000afc8" + If(v >= 1, "000493e0") + "0000" + If(v >= 5, "ffff") +
         "0008 'consumer' 00000002 0005 'range' 00000003 'abc' 000a 'roundrobin' 00000000";
}

std::string HeartbeatBody(int16_t v) {
  return "0002 'g1' 00000003 0002 'm1'" + If(v >= 3, "0002 'i1'");
}

std::string LeaveGroupBody(int16_t) {
  return "0002 'g1' 0002 'm1'";
}

std::string SyncGroupBody(int16_t v) {
  return "0002 'g1' 00000003 0002 'm1'" + If(v >= 3, "ffff") +
         "00000002 0002 'm1' 00000003 'abc' 0002 'm2' 00000000";
}

std::string DescribeGroupsBody(int16_t v) {
  return "00000002 0002 'g1' 0003 'abc'" + If(v >= 3, "01");
}

std::string ListGroupsBody(int16_t) {
  return "";
}

std::string DeleteGroupsBody(int16_t) {
  return "00000002 0002 'g1' 0003 'abc'";
}

const Seed kSeeds[] = {
    {"produce", ApiKey::kProduce, 3, 7, ProduceBody},
    {"fetch", ApiKey::kFetch, 4, 11, FetchBody},
    {"list_offsets", ApiKey::kListOffsets, 0, 3, ListOffsetsBody},
    {"metadata", ApiKey::kMetadata, 0, 6, MetadataBody},
    {"api_versions", ApiKey::kApiVersions, 0, 3, ApiVersionsBody},
    {"create_topics", ApiKey::kCreateTopics, 0, 4, CreateTopicsBody},
    {"delete_topics", ApiKey::kDeleteTopics, 0, 3, DeleteTopicsBody},
    {"describe_configs", ApiKey::kDescribeConfigs, 0, 2, DescribeConfigsBody},
    {"init_producer_id", ApiKey::kInitProducerId, 0, 1, InitProducerIdBody},
    {"offset_commit", ApiKey::kOffsetCommit, 0, 7, OffsetCommitBody},
    {"offset_fetch", ApiKey::kOffsetFetch, 0, 5, OffsetFetchBody},
    {"find_coordinator", ApiKey::kFindCoordinator, 0, 2, FindCoordinatorBody},
    {"join_group", ApiKey::kJoinGroup, 0, 5, JoinGroupBody},
    {"heartbeat", ApiKey::kHeartbeat, 0, 3, HeartbeatBody},
    {"leave_group", ApiKey::kLeaveGroup, 0, 2, LeaveGroupBody},
    {"sync_group", ApiKey::kSyncGroup, 0, 3, SyncGroupBody},
    {"describe_groups", ApiKey::kDescribeGroups, 0, 4, DescribeGroupsBody},
    {"list_groups", ApiKey::kListGroups, 0, 2, ListGroupsBody},
    {"delete_groups", ApiKey::kDeleteGroups, 0, 1, DeleteGroupsBody},
};

Bytes Frame(const Seed& seed, int16_t version) {
  Writer w;
  const bool flexible = seed.key == ApiKey::kApiVersions && version >= 3;
  EncodeRequestHeader(w, {static_cast<int16_t>(seed.key), version, 1, "fuzz"}, flexible);
  w.Raw(wire_test::Hex(seed.body(version)));
  return w.Take();
}

bool DecodesCleanly(ApiKey key, int16_t version, ByteView frame) {
  Reader r(frame);
  RequestHeader h = DecodeRequestHeader(r, key == ApiKey::kApiVersions && version >= 3);
  switch (key) {
    case ApiKey::kProduce: DecodeProduceRequest(r, version); break;
    case ApiKey::kFetch: DecodeFetchRequest(r, version); break;
    case ApiKey::kListOffsets: DecodeListOffsetsRequest(r, version); break;
    case ApiKey::kMetadata: DecodeMetadataRequest(r, version); break;
    case ApiKey::kApiVersions: DecodeApiVersionsRequest(r, version); break;
    case ApiKey::kCreateTopics: DecodeCreateTopicsRequest(r, version); break;
    case ApiKey::kDeleteTopics: DecodeDeleteTopicsRequest(r, version); break;
    case ApiKey::kDescribeConfigs: DecodeDescribeConfigsRequest(r, version); break;
    case ApiKey::kInitProducerId: DecodeInitProducerIdRequest(r, version); break;
    case ApiKey::kOffsetCommit: DecodeOffsetCommitRequest(r, version); break;
    case ApiKey::kOffsetFetch: DecodeOffsetFetchRequest(r, version); break;
    case ApiKey::kFindCoordinator: DecodeFindCoordinatorRequest(r, version); break;
    case ApiKey::kJoinGroup: DecodeJoinGroupRequest(r, version); break;
    case ApiKey::kHeartbeat: DecodeHeartbeatRequest(r, version); break;
    case ApiKey::kLeaveGroup: DecodeLeaveGroupRequest(r, version); break;
    case ApiKey::kSyncGroup: DecodeSyncGroupRequest(r, version); break;
    case ApiKey::kDescribeGroups: DecodeDescribeGroupsRequest(r, version); break;
    case ApiKey::kListGroups: break;  // no body
    case ApiKey::kDeleteGroups: DecodeDeleteGroupsRequest(r, version); break;
    default: return false;
  }
  return r.ok() && r.remaining() == 0 && h.api_version == version;
}

}  // namespace
}  // namespace oncemq::protocol

int main(int argc, char** argv) {
  using namespace oncemq::protocol;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  for (const Seed& seed : kSeeds) {
    for (int16_t v = seed.min_version; v <= seed.max_version; ++v) {
      std::string name = std::string(seed.name) + "_v" + std::to_string(v);
      oncemq::Bytes frame = Frame(seed, v);
      if (!DecodesCleanly(seed.key, v, frame)) {
        std::fprintf(stderr, "seed %s does not decode cleanly\n", name.c_str());
        return 1;
      }
      if (!oncemq::fuzz::WriteSeed(argv[1], name, frame)) {
        std::fprintf(stderr, "cannot write %s/%s\n", argv[1], name.c_str());
        return 1;
      }
    }
  }
  return 0;
}
