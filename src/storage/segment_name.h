// Segment file names: the base offset as 20 decimal digits, zero-padded, then ".log" or ".index"
// (00000000000000001234.log). Sorting names sorts segments by base offset. docs/formats.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"

namespace oncemq::storage {

enum class SegmentFileKind { kLog, kIndex };

struct SegmentFileName {
  Offset base;
  SegmentFileKind kind;
};

// "00000000000000001234.log" for base 1234. REQUIRES: base >= 0.
std::string MakeSegmentFileName(Offset base, SegmentFileKind kind);
// The base offset and kind named by `name`, or nullopt for any other file name.
std::optional<SegmentFileName> ParseSegmentFileName(std::string_view name);

}  // namespace oncemq::storage
