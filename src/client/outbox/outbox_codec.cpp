#include "client/outbox/outbox_codec.h"

#include <openssl/evp.h>

#include <charconv>

namespace oncemq::client {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendPart(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

// Reads `<length>:<bytes>` at `at`; nullopt if malformed.
std::optional<std::string> ReadPart(std::string_view bytes, size_t& at) {
  size_t length = 0;
  const char* begin = bytes.data() + at;
  const char* end = bytes.data() + bytes.size();
  const auto [colon, ec] = std::from_chars(begin, end, length);
  if (ec != std::errc() || colon == begin || colon == end || *colon != ':') return std::nullopt;
  const size_t start = static_cast<size_t>(colon - bytes.data()) + 1;
  if (length > bytes.size() - start) return std::nullopt;
  at = start + length;
  return std::string(bytes.substr(start, length));
}

}  // namespace

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kDigits[b >> 4];
    hex[2 * i + 1] = kDigits[b & 15];
  }
  return hex;
}

std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes(hex.size() / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes[i] = static_cast<char>(hi << 4 | lo);
  }
  return bytes;
}

std::string EncodeHeaders(const HeaderList& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    AppendPart(out, name);
    AppendPart(out, value);
  }
  return out;
}

Result<HeaderList> DecodeHeaders(std::string_view bytes) {
  HeaderList headers;
  size_t at = 0;
  while (at < bytes.size()) {
    std::optional<std::string> name = ReadPart(bytes, at);
    std::optional<std::string> value = name ? ReadPart(bytes, at) : std::nullopt;
    if (!value) return Status::Corruption("outbox: malformed headers column");
    headers.emplace_back(std::move(*name), std::move(*value));
  }
  return headers;
}

std::optional<std::string> OrderKey(std::string_view topic, const std::optional<std::string>& key) {
  if (!key) return std::nullopt;
  std::string input;
  AppendPart(input, topic);
  input += *key;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr);
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

}  // namespace oncemq::client
