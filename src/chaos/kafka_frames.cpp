#include "chaos/kafka_frames.h"

namespace oncemq::chaos {
namespace {

constexpr int16_t kProduceKey = 0;
constexpr int16_t kProduceFirstFlexible = 9;
constexpr int16_t kMetadataFirstFlexible = 9;
constexpr int16_t kFindCoordinatorFirstFlexible = 3;
constexpr int16_t kFindCoordinatorFirstBatched = 4;  // a coordinators array instead of one coordinator

void StoreI32(uint8_t* p, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  p[0] = static_cast<uint8_t>(u >> 24);
  p[1] = static_cast<uint8_t>(u >> 16);
  p[2] = static_cast<uint8_t>(u >> 8);
  p[3] = static_cast<uint8_t>(u);
}

// Bounds-checked reads over one frame payload, for the few fields the proxy looks at.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  bool Skip(size_t n) {
    if (size_ - pos_ < n) return false;
    pos_ += n;
    return true;
  }
  bool I16(int16_t* v) {
    if (size_ - pos_ < 2) return false;
    *v = static_cast<int16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool I32(int32_t* v) {
    if (size_ - pos_ < 4) return false;
    *v = LoadI32(data_ + pos_);
    pos_ += 4;
    return true;
  }
  bool UVarint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == size_) return false;
      uint8_t b = data_[pos_++];
      *v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  // A (nullable) STRING, or with `compact` a COMPACT_(NULLABLE_)STRING.
  bool SkipString(bool compact) {
    if (compact) {
      uint64_t n = 0;
      return UVarint(&n) && (n == 0 || Skip(n - 1));
    }
    int16_t n = 0;
    return I16(&n) && (n < 0 || Skip(static_cast<size_t>(n)));
  }
  bool SkipTags() {
    uint64_t count = 0;
    if (!UVarint(&count)) return false;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t tag = 0, size = 0;
      if (!UVarint(&tag) || !UVarint(&size) || !Skip(size)) return false;
    }
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace

int32_t LoadI32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                              uint32_t{p[3]});
}

std::optional<RequestHeader> ParseRequest(const uint8_t* payload, size_t size) {
  Cursor c(payload, size);
  RequestHeader h;
  if (!c.I16(&h.api_key) || !c.I16(&h.api_version) || !c.I32(&h.correlation_id)) return std::nullopt;
  if (h.api_key != kProduceKey) return h;
  // Produce: client_id is a classic nullable string in every header version; flexible versions add tags.
  bool flexible = h.api_version >= kProduceFirstFlexible;
  if (!c.SkipString(false) || (flexible && !c.SkipTags())) return h;
  if (h.api_version >= 3 && !c.SkipString(flexible)) return h;  // transactional_id
  int16_t acks = -1;
  if (c.I16(&acks) && acks == 0) h.expects_response = false;
  return h;
}

int RewriteMetadataPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to) {
  Cursor c(payload, size);
  bool flexible = version >= kMetadataFirstFlexible;
  if (!c.Skip(4) || (flexible && !c.SkipTags())) return -1;  // correlation_id, header tags
  if (version >= 3 && !c.Skip(4)) return -1;                 // throttle_time_ms
  int64_t count = 0;
  if (flexible) {
    uint64_t n = 0;
    if (!c.UVarint(&n)) return -1;
    count = static_cast<int64_t>(n) - 1;
  } else {
    int32_t n = 0;
    if (!c.I32(&n)) return -1;
    count = n;
  }
  int rewritten = 0;
  for (int64_t i = 0; i < count; ++i) {
    int32_t port = 0;
    if (!c.Skip(4) || !c.SkipString(flexible)) return -1;  // node_id, host
    size_t port_pos = c.pos();
    if (!c.I32(&port)) return -1;
    if (port == from) {
      StoreI32(payload + port_pos, to);
      ++rewritten;
    }
    if (version >= 1 && !c.SkipString(flexible)) return -1;  // rack
    if (flexible && !c.SkipTags()) return -1;
  }
  return rewritten;
}

int RewriteCoordinatorPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to) {
  Cursor c(payload, size);
  const bool flexible = version >= kFindCoordinatorFirstFlexible;
  if (!c.Skip(4) || (flexible && !c.SkipTags())) return -1;  // correlation_id, header tags
  if (version >= 1 && !c.Skip(4)) return -1;                 // throttle_time_ms
  auto rewrite_port = [&](int* rewritten) {
    const size_t port_pos = c.pos();
    int32_t port = 0;
    if (!c.I32(&port)) return false;
    if (port == from) {
      StoreI32(payload + port_pos, to);
      ++*rewritten;
    }
    return true;
  };
  int rewritten = 0;
  if (version < kFindCoordinatorFirstBatched) {
    if (!c.Skip(2)) return -1;                               // error_code
    if (version >= 1 && !c.SkipString(flexible)) return -1;  // error_message
    if (!c.Skip(4) || !c.SkipString(flexible)) return -1;    // node_id, host
    return rewrite_port(&rewritten) ? rewritten : -1;
  }
  uint64_t count_plus_one = 0;
  if (!c.UVarint(&count_plus_one)) return -1;
  for (uint64_t i = 1; i < count_plus_one; ++i) {
    if (!c.SkipString(true) || !c.Skip(4) || !c.SkipString(true)) return -1;  // key, node_id, host
    if (!rewrite_port(&rewritten)) return -1;
    if (!c.Skip(2) || !c.SkipString(true) || !c.SkipTags()) return -1;  // error_code, error_message, tags
  }
  return rewritten;
}

}  // namespace oncemq::chaos
