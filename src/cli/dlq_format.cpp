#include "cli/dlq_format.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace oncemq::cli {

std::string FormatUtcMs(int64_t ms) {
  const time_t seconds = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int64_t millis = ms - static_cast<int64_t>(seconds) * 1000;
  tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr) return std::to_string(ms) + " ms";
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return text.data();
}

std::string FormatSpan(int64_t ms) {
  constexpr int64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;
  if (ms < kSecond) return std::to_string(ms) + " ms";
  if (ms < 2 * kMinute) return std::to_string(ms / kSecond) + " s";
  if (ms < 2 * kHour) return std::to_string(ms / kMinute) + " min";
  if (ms < 2 * kDay) return std::to_string(ms / kHour) + " h";
  return std::to_string(ms / kDay) + " d";
}

std::string FormatRelative(int64_t at_ms, int64_t now_ms) {
  if (at_ms == now_ms) return "now";
  if (at_ms > now_ms) return "in " + FormatSpan(at_ms - now_ms);
  return FormatSpan(now_ms - at_ms) + " ago";
}

std::string PrintablePreview(std::string_view bytes, size_t max_chars) {
  const bool cut = bytes.size() > max_chars;
  std::string out;
  out.reserve(std::min(bytes.size(), max_chars) + 3);
  for (char c : bytes.substr(0, max_chars)) out.push_back(c >= 0x20 && c < 0x7f ? c : '.');
  if (cut) out += "...";
  return out;
}

}  // namespace oncemq::cli
