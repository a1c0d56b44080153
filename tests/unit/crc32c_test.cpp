#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

namespace oncemq::crc32c {
namespace {

// Vectors from RFC 3720 appendix B.4 and the common "123456789" check value.
TEST(Crc32c, MatchesPublishedVectors) {
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), up(32), down(32);
  std::iota(up.begin(), up.end(), 0);
  for (int i = 0; i < 32; ++i) down[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Value(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Value(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(Value(up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(Value(down.data(), 32), 0x113FDB5Cu);
  std::string check = "123456789";
  EXPECT_EQ(Value(check.data(), check.size()), 0xE3069283u);
}

TEST(Crc32c, PortableAndHardwareAgreeOnEveryLengthAndAlignment) {
  std::vector<uint8_t> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; n + start <= data.size(); n += 13) {
      EXPECT_EQ(Extend(0, data.data() + start, n), ExtendPortable(0, data.data() + start, n));
    }
  }
}

TEST(Crc32c, ExtendEqualsOneShot) {
  std::string s = "the quick brown fox jumps over the lazy dog";
  uint32_t split = Extend(Extend(0, s.data(), 10), s.data() + 10, s.size() - 10);
  EXPECT_EQ(split, Value(s.data(), s.size()));
}

}  // namespace
}  // namespace oncemq::crc32c
