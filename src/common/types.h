// Distinct types for distinct numbers: an offset is not a sequence is not a producer id.
// Each is a thin wrapper with explicit construction and ordering; .value() reaches the integer.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace oncemq {

template <typename Tag, typename T>
class Named {
 public:
  using value_type = T;
  constexpr Named() = default;
  constexpr explicit Named(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const Named&) const = default;

 private:
  T v_{};
};

using Offset = Named<struct OffsetTag, int64_t>;          // position of a record in a partition
using PartitionId = Named<struct PartitionTag, int32_t>;  // partition index within a topic
using ProducerId = Named<struct ProducerIdTag, int64_t>;  // -1 = not idempotent
using ProducerEpoch = Named<struct EpochTag, int16_t>;
using Sequence = Named<struct SequenceTag, int32_t>;  // per (producer, partition), wraps at INT32_MAX

}  // namespace oncemq

template <typename Tag, typename T>
struct std::hash<oncemq::Named<Tag, T>> {
  size_t operator()(const oncemq::Named<Tag, T>& n) const noexcept { return std::hash<T>{}(n.value()); }
};
