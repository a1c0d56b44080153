// What the broker checks on every produced batch before it appends it (kafka-protocol.md §5.3).
// Pure function of the bytes and limits; the returned code goes straight into the partition's answer.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/status.h"
#include "protocol/api.h"

namespace oncemq::broker {

// Exactly one magic-2 batch filling `records`, CRC-32C intact, recordsCount == lastOffsetDelta + 1, no
// control or transactional bit, a codec this version allows, a sequence when there is a producer id, and
// no more than `max_message_bytes`.
protocol::ErrorCode ValidateProduceBatch(std::optional<ByteView> records, int32_t max_message_bytes,
                                         int16_t produce_version);

// The one translation from internal Status to the Kafka error a client acts on. An outcome we cannot be
// sure of (I/O error, fsync timeout) maps to a retriable code, never to success.
protocol::ErrorCode ToKafkaError(const Status& status);

}  // namespace oncemq::broker
