// How an outbox row holds a message's parts, the same on every engine:
// - bytes (key, payload, headers) travel to the database as raw text (SQLite, cast to a BLOB) or hex
//   (PostgreSQL decode(…, 'hex'), MySQL UNHEX), and come back as hex, so binary data crosses the text
//   protocols unchanged;
// - headers are one byte string: per header `<name length>:<name><value length>:<value>`, lengths in
//   decimal (readable when the headers are text);
// - order_key, which groups the messages whose order the relay keeps, is the SHA-256 (hex) of the topic's
//   length, the topic and the key; messages without a key have none.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oncemq/status.h"

namespace oncemq::client {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

std::string ToHex(std::string_view bytes);
// Either case; nullopt for an odd length or a non-hex digit.
std::optional<std::string> FromHex(std::string_view hex);

std::string EncodeHeaders(const HeaderList& headers);
// kCorruption for bytes EncodeHeaders did not make.
Result<HeaderList> DecodeHeaders(std::string_view bytes);

std::optional<std::string> OrderKey(std::string_view topic, const std::optional<std::string>& key);

}  // namespace oncemq::client
