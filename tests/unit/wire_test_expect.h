// gtest checks shared by the wire codec tests (wire_messages_test.cpp, wire_group_messages_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/bytes.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "wire_test_util.h"

namespace oncemq::protocol::wire_test {

// Decodes a whole body: the reader must stay ok and end exactly at the end of the bytes.
template <typename Decode>
auto DecodeWhole(const Bytes& in, int16_t version, Decode decode) {
  Reader r(in);
  auto req = decode(r, version);
  EXPECT_TRUE(r.ok()) << "version " << version;
  EXPECT_EQ(r.remaining(), 0u) << "version " << version << " left bytes unread";
  return req;
}

// Every field of every advertised version is mandatory, so any strict prefix must fail.
template <typename Decode>
void ExpectEveryPrefixFails(const Bytes& in, int16_t version, Decode decode) {
  for (size_t cut = 0; cut < in.size(); ++cut) {
    Reader r(ByteView(in).first(cut));
    decode(r, version);
    EXPECT_FALSE(r.ok()) << "version " << version << ": a body cut to " << cut << " of " << in.size()
                         << " bytes decoded cleanly";
  }
}

// Decoding the whole of `in` must fail (a malformed body, not a truncated one).
template <typename Decode>
void ExpectDecodeFails(const Bytes& in, int16_t version, Decode decode) {
  Reader r(in);
  decode(r, version);
  EXPECT_FALSE(r.ok()) << "version " << version << ": " << ToHex(in) << " decoded cleanly";
}

template <typename Encode, typename Resp>
std::string Encoded(Encode encode, const Resp& resp, int16_t version) {
  Writer w;
  encode(w, resp, version);
  return ToHex(w.bytes());
}

inline std::string Str(std::optional<ByteView> b) {
  return b ? std::string(AsStringView(*b)) : "<null>";
}

}  // namespace oncemq::protocol::wire_test
