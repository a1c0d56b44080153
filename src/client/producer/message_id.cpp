#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "common/clock.h"
#include "oncemq/reliable_producer.h"

namespace oncemq {

namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// 80 random bits; from OpenSSL's generator, or a per-thread engine should it ever fail.
std::array<uint8_t, 10> RandomBits() {
  std::array<uint8_t, 10> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1) return bytes;
  thread_local std::mt19937_64 engine{std::random_device{}()};
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(engine());
  return bytes;
}

}  // namespace

std::string NewMessageId() {
  // 128 bits: 48 of milliseconds, 80 random; 26 base32 digits cover 130 bits, the top two are zero.
  const auto ms = static_cast<uint64_t>(WallMs()) & ((uint64_t{1} << 48) - 1);
  const std::array<uint8_t, 10> random = RandomBits();
  unsigned __int128 value = ms;
  for (uint8_t b : random) value = (value << 8) | b;
  std::string id(26, '0');
  for (int i = 25; i >= 0; --i) {
    id[i] = kCrockford[static_cast<unsigned>(value & 31)];
    value >>= 5;
  }
  return id;
}

}  // namespace oncemq
