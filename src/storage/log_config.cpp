#include "storage/log_config.h"

#include <charconv>

namespace oncemq::storage {

Result<FlushPolicy> FlushPolicy::Parse(const std::string& text) {
  FlushPolicy p;
  if (text == "always") return p;
  if (text == "never") {
    p.kind = Kind::kNever;
    return p;
  }
  const std::string prefix = "interval=";
  if (text.rfind(prefix, 0) == 0) {
    int64_t ms = 0;
    const char* begin = text.data() + prefix.size();
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, ms);
    if (ec == std::errc() && ptr == end && ms > 0) {
      p.kind = Kind::kInterval;
      p.interval_ms = ms;
      return p;
    }
  }
  return Status::InvalidArgument("flush policy must be always, never or interval=<ms>, not '" + text + "'");
}

std::string FlushPolicy::ToString() const {
  switch (kind) {
    case Kind::kAlways: return "always";
    case Kind::kNever: return "never";
    case Kind::kInterval: return "interval=" + std::to_string(interval_ms);
  }
  return "always";
}

}  // namespace oncemq::storage
