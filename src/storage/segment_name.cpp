#include "storage/segment_name.h"

#include <charconv>

#include <fmt/format.h>

namespace oncemq::storage {
namespace {
constexpr size_t kDigits = 20;
constexpr std::string_view kLogSuffix = ".log";
constexpr std::string_view kIndexSuffix = ".index";
}  // namespace

std::string MakeSegmentFileName(Offset base, SegmentFileKind kind) {
  return fmt::format("{:020d}{}", base.value(), kind == SegmentFileKind::kLog ? kLogSuffix : kIndexSuffix);
}

std::optional<SegmentFileName> ParseSegmentFileName(std::string_view name) {
  if (name.size() <= kDigits) return std::nullopt;
  std::string_view suffix = name.substr(kDigits);
  SegmentFileKind kind;
  if (suffix == kLogSuffix) {
    kind = SegmentFileKind::kLog;
  } else if (suffix == kIndexSuffix) {
    kind = SegmentFileKind::kIndex;
  } else {
    return std::nullopt;
  }
  int64_t base = 0;
  const char* begin = name.data();
  const char* end = name.data() + kDigits;
  if (*begin == '+' || *begin == '-') return std::nullopt;
  auto [ptr, ec] = std::from_chars(begin, end, base);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return SegmentFileName{Offset(base), kind};
}

}  // namespace oncemq::storage
