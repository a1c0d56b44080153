// Reading a dead-letter topic (`<group>.dlq`, DESIGN.md §3) for people: every message from the first
// offset still stored to the log end as it was when the read began, without joining a consumer group
// (partitions are assigned by hand and nothing is committed), copied out of librdkafka so that the
// consumer can be closed before the caller looks at them.
// Thread safety: the functions keep no state; a DeadLetter is a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/kafka_admin.h"
#include "common/status.h"

namespace oncemq::cli {

// One record header; a null value (which Kafka allows) stays distinct from an empty one.
struct HeaderField {
  std::string name;
  std::optional<std::string> value;
};

struct DeadLetter {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;        // the record's timestamp: when it was dead-lettered
  std::optional<std::string> key;  // nullopt for a null record key
  std::string payload;
  std::vector<HeaderField> headers;  // in record order, repeats kept

  // "PARTITION:OFFSET", the id `oncemq dlq replay --id` takes.
  std::string Id() const;
  // The value of the last header named `name`; nullopt when absent or null.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// The offsets a partition holds now: [first, end).
struct OffsetRange {
  int64_t first = 0;  // the first offset still stored
  int64_t end = 0;    // the log end: the offset the next message will get
};

// The range of every partition of `topic`, by partition id. NotFound when the topic does not exist.
Result<std::map<int32_t, OffsetRange>> FetchOffsetRanges(const AdminConnectOptions& connect,
                                                         const std::string& topic);

// The messages of `topic` in `ranges` (partition → [first, end); empty ranges are skipped), ordered by
// partition then offset. Offsets the log skips (records a message-id window dropped, record-less batches)
// are simply absent. Unavailable when a partition could not be read to `end` within connect.timeout_ms of
// silence.
Result<std::vector<DeadLetter>> ReadRanges(const AdminConnectOptions& connect, const std::string& topic,
                                           const std::map<int32_t, OffsetRange>& ranges);

// Every message of `topic`, ordered by partition then offset. NotFound when the topic does not exist;
// Unavailable when no broker answers, or when a partition could not be read to its end within
// connect.timeout_ms of silence.
Result<std::vector<DeadLetter>> ReadDeadLetters(const AdminConnectOptions& connect, const std::string& topic);

}  // namespace oncemq::cli
