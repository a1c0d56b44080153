// Helpers for the wire codec tests: expected bytes are written by hand, as hex, from kafka-protocol.md.
// Free of gtest, so the fuzz corpus generators can use Hex too; the gtest checks are in wire_test_expect.h.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "protocol/api.h"

namespace oncemq::protocol::wire_test {

// Parses hand-written bytes: pairs of hex digits; spaces, newlines and '|' are ignored; 'text' in single
// quotes is copied as ASCII. Throws std::invalid_argument on a malformed literal (a bug in the test).
inline Bytes Hex(std::string_view s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == ' ' || c == '|' || c == '\n') {
      ++i;
    } else if (c == '\'') {
      size_t end = s.find('\'', i + 1);
      if (end == std::string_view::npos) throw std::invalid_argument("unterminated quote in hex literal");
      out.insert(out.end(), s.begin() + static_cast<std::ptrdiff_t>(i + 1),
                 s.begin() + static_cast<std::ptrdiff_t>(end));
      i = end + 1;
    } else {
      if (i + 1 >= s.size() || nibble(c) < 0 || nibble(s[i + 1]) < 0) {
        throw std::invalid_argument("bad hex literal near: " + std::string(s.substr(i, 8)));
      }
      out.push_back(static_cast<uint8_t>(nibble(c) << 4 | nibble(s[i + 1])));
      i += 2;
    }
  }
  return out;
}

// Spaced lowercase hex, so a failed comparison shows where two byte strings part.
inline std::string ToHex(ByteView b) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof(buf), i == 0 ? "%02x" : " %02x", b[i]);
    out += buf;
  }
  return out;
}

inline std::string HexOf(std::string_view literal) {
  return ToHex(Hex(literal));
}

// One hand-written body of one API version.
struct Case {
  int16_t version;
  const char* hex;
};

inline std::set<int16_t> Versions(std::span<const Case> cases) {
  std::set<int16_t> out;
  for (const auto& c : cases) out.insert(c.version);
  return out;
}

// The versions an API's hand-written tables cover, requests and responses apart.
struct CoveredVersions {
  std::set<int16_t> requests, responses;
};

// The consumer-group and committed-offset APIs' tables (wire_group_messages_test.cpp).
std::map<ApiKey, CoveredVersions> GroupMessagesCoverage();

}  // namespace oncemq::protocol::wire_test
