#include "broker/batch_validation.h"

#include "protocol/batch_header.h"

namespace oncemq::broker {

using protocol::ErrorCode;

ErrorCode ValidateProduceBatch(std::optional<ByteView> records, int32_t max_message_bytes,
                               int16_t produce_version) {
  if (!records || records->empty()) return ErrorCode::kInvalidRecord;
  if (records->size() > static_cast<size_t>(max_message_bytes)) return ErrorCode::kMessageTooLarge;
  auto header = protocol::BatchHeader::Parse(*records);
  if (!header.ok()) return ErrorCode::kCorruptMessage;
  if (header->total_size() != records->size()) return ErrorCode::kInvalidRecord;  // v3+: one batch only
  if (!header->CrcMatches()) return ErrorCode::kCorruptMessage;
  if (header->last_offset_delta() < 0 || header->records_count() != header->last_offset_delta() + 1) {
    return ErrorCode::kInvalidRecord;
  }
  if (header->control()) return ErrorCode::kInvalidRecord;
  if (header->transactional()) return ErrorCode::kInvalidTxnState;
  auto codec = static_cast<int>(header->compression());
  if (codec > 4 || (header->compression() == protocol::Compression::kZstd && produce_version < 7)) {
    return ErrorCode::kUnsupportedCompressionType;
  }
  if (header->producer_id() >= 0 && (header->base_sequence() < 0 || header->producer_epoch() < 0)) {
    return ErrorCode::kInvalidRecord;
  }
  return ErrorCode::kNone;
}

ErrorCode ToKafkaError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return ErrorCode::kNone;
    case StatusCode::kIoError: return ErrorCode::kKafkaStorageError;
    case StatusCode::kUnavailable: return ErrorCode::kRequestTimedOut;
    case StatusCode::kNotFound: return ErrorCode::kUnknownTopicOrPartition;
    case StatusCode::kCorruption: return ErrorCode::kCorruptMessage;
    case StatusCode::kResourceExhausted: return ErrorCode::kMessageTooLarge;
    case StatusCode::kInvalidArgument: return ErrorCode::kInvalidRequest;
    case StatusCode::kAlreadyExists: return ErrorCode::kTopicAlreadyExists;
    case StatusCode::kUnsupported: return ErrorCode::kUnsupportedVersion;
  }
  return ErrorCode::kUnknownServerError;
}

}  // namespace oncemq::broker
