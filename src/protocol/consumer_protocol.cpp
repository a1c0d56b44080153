#include "protocol/consumer_protocol.h"

#include <string>

#include "protocol/reader.h"

namespace oncemq::protocol {
namespace {

constexpr size_t kMinTopicSize = 2 + 4;  // empty topic name, empty partition array

AssignedTopic DecodeAssignedTopic(Reader& r) {
  AssignedTopic topic{.topic = std::string(r.String()), .partitions = {}};
  int32_t count = r.ArrayCount(sizeof(int32_t));
  if (count < 0) r.Fail();  // null arrays are not part of this format
  for (int32_t i = 0; r.ok() && i < count; ++i) topic.partitions.emplace_back(r.Int32());
  return topic;
}

}  // namespace

Result<ConsumerAssignment> DecodeConsumerAssignment(ByteView bytes) {
  ConsumerAssignment assignment;
  if (bytes.empty()) return assignment;
  Reader r(bytes);
  assignment.version = r.Int16();
  if (assignment.version < 0) r.Fail();
  int32_t count = r.ArrayCount(kMinTopicSize);
  if (count < 0) r.Fail();
  for (int32_t i = 0; r.ok() && i < count; ++i) assignment.topics.push_back(DecodeAssignedTopic(r));
  if (std::optional<ByteView> user_data = r.NullableBytes(); user_data.has_value()) {
    assignment.user_data = Bytes(user_data->begin(), user_data->end());
  }
  if (!r.ok()) {
    return Status::Corruption("consumer-protocol assignment of " + std::to_string(bytes.size()) +
                              " bytes is malformed near byte " + std::to_string(r.position()));
  }
  return assignment;
}

}  // namespace oncemq::protocol
