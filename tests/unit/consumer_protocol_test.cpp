// The consumer-protocol assignment (kafka-protocol.md §4.17), decoded from bytes written by hand.
#include "protocol/consumer_protocol.h"

#include <gtest/gtest.h>

#include "wire_test_util.h"

namespace oncemq::protocol {
namespace {

using wire_test::Hex;

std::vector<PartitionId> Partitions(std::initializer_list<int32_t> ids) {
  std::vector<PartitionId> out;
  for (int32_t id : ids) out.emplace_back(id);
  return out;
}

// What librdkafka's range assignor sends a member holding orders/0,2 and audit/1, without user data.
const char* const kTwoTopics =
    "00 00 |"        // version 0
    "00 00 00 02 |"  // two topics
    "00 06 'orders' | 00 00 00 02 | 00 00 00 00 | 00 00 00 02 |"
    "00 05 'audit' | 00 00 00 01 | 00 00 00 01 |"
    "ff ff ff ff";  // user_data null

TEST(ConsumerProtocol, DecodesTopicsAndPartitionsInOrder) {
  Bytes in = Hex(kTwoTopics);
  auto assignment = DecodeConsumerAssignment(in);
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  EXPECT_EQ(assignment->version, 0);
  ASSERT_EQ(assignment->topics.size(), 2u);
  EXPECT_EQ(assignment->topics[0], (AssignedTopic{.topic = "orders", .partitions = Partitions({0, 2})}));
  EXPECT_EQ(assignment->topics[1], (AssignedTopic{.topic = "audit", .partitions = Partitions({1})}));
  EXPECT_FALSE(assignment->user_data.has_value());
}

TEST(ConsumerProtocol, KeepsUserData) {
  Bytes in = Hex("00 01 | 00 00 00 00 | 00 00 00 03 | 0a 0b 0c");
  auto assignment = DecodeConsumerAssignment(in);
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  EXPECT_EQ(assignment->version, 1);
  EXPECT_TRUE(assignment->topics.empty());
  EXPECT_EQ(assignment->user_data, Hex("0a 0b 0c"));
}

TEST(ConsumerProtocol, EmptyUserDataIsNotNull) {
  Bytes in = Hex("00 00 | 00 00 00 00 | 00 00 00 00");
  auto assignment = DecodeConsumerAssignment(in);
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  EXPECT_EQ(assignment->user_data, Bytes{});
}

TEST(ConsumerProtocol, NoBytesIsAnEmptyAssignment) {
  auto assignment = DecodeConsumerAssignment(ByteView{});
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  EXPECT_TRUE(assignment->topics.empty());
}

TEST(ConsumerProtocol, IgnoresFieldsOfLaterVersions) {
  Bytes in = Hex("00 03 | 00 00 00 01 | 00 01 't' | 00 00 00 01 | 00 00 00 07 | ff ff ff ff | 'future'");
  auto assignment = DecodeConsumerAssignment(in);
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  EXPECT_EQ(assignment->version, 3);
  ASSERT_EQ(assignment->topics.size(), 1u);
  EXPECT_EQ(assignment->topics[0], (AssignedTopic{.topic = "t", .partitions = Partitions({7})}));
}

TEST(ConsumerProtocol, EveryTruncationIsCorruption) {
  Bytes in = Hex(kTwoTopics);
  for (size_t n = 1; n < in.size(); ++n) {
    auto assignment = DecodeConsumerAssignment(ByteView(in).first(n));
    EXPECT_EQ(assignment.status().code(), StatusCode::kCorruption)
        << "the first " << n << " of " << in.size() << " bytes";
  }
}

TEST(ConsumerProtocol, RejectsNegativeCountsAndVersion) {
  for (const char* bad : {
           "ff ff | 00 00 00 00 | ff ff ff ff",                            // version -1
           "00 00 | ff ff ff ff | ff ff ff ff",                            // null topic array
           "00 00 | 80 00 00 00 | ff ff ff ff",                            // topic count INT32_MIN
           "00 00 | 00 00 00 01 | 00 01 't' | ff ff ff ff | ff ff ff ff",  // null partition array
           "00 00 | 00 00 00 01 | ff ff | 00 00 00 00 | ff ff ff ff",      // null topic name
           "00 00 | 00 00 00 00 | ff ff ff fe",                            // user_data length -2
       }) {
    EXPECT_FALSE(DecodeConsumerAssignment(Hex(bad)).ok()) << bad;
  }
}

TEST(ConsumerProtocol, RejectsCountsLargerThanTheBytes) {
  Bytes in = Hex("00 00 | 00 00 00 01 | 00 01 't' | 00 10 00 00 | 00 00 00 01 | ff ff ff ff");
  EXPECT_FALSE(DecodeConsumerAssignment(in).ok());
}

}  // namespace
}  // namespace oncemq::protocol
