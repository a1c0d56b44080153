// Text helpers the `oncemq dlq` and `oncemq dedup` commands share: times as UTC and relative to a clock,
// and arbitrary bytes made safe for one table cell. Pure functions; no clock is read here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace oncemq::cli {

// "2024-05-01T12:00:03.123Z" for ms since the Unix epoch.
std::string FormatUtcMs(int64_t ms);

// A span of time in the largest unit that keeps it readable: "850 ms", "12 s", "7 min", "5 h", "3 d".
// REQUIRES: ms >= 0.
std::string FormatSpan(int64_t ms);

// Where `at_ms` lies relative to `now_ms` (both on the same clock): "in 12 s", "3 s ago", or "now" when
// they are equal.
std::string FormatRelative(int64_t at_ms, int64_t now_ms);

// `bytes` as one printable line: bytes outside printable ASCII become '.', and text longer than
// `max_chars` is cut and ends in "...".
std::string PrintablePreview(std::string_view bytes, size_t max_chars);

}  // namespace oncemq::cli
