#include "client/consumer/topic_subscription.h"

#include <regex.h>

#include <algorithm>
#include <optional>

namespace oncemq::client {

namespace {

// Whether a listed topic matches `pattern`; nullopt when it does not compile.
std::optional<bool> AnyMatches(const std::string& pattern, const std::vector<std::string>& listed) {
  regex_t compiled;
  if (::regcomp(&compiled, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return std::nullopt;
  const bool matched = std::any_of(listed.begin(), listed.end(), [&](const std::string& topic) {
    return ::regexec(&compiled, topic.c_str(), 0, nullptr, 0) == 0;
  });
  ::regfree(&compiled);
  return matched;
}

}  // namespace

bool IsTopicPattern(const std::string& subscription) {
  return subscription.starts_with('^');
}

std::set<std::string> UnlistedSubscriptions(const std::set<std::string>& wanted,
                                            const std::vector<std::string>& listed) {
  std::set<std::string> unlisted;
  for (const std::string& entry : wanted) {
    if (IsTopicPattern(entry)) {
      if (AnyMatches(entry, listed) == false) unlisted.insert(entry);
    } else if (std::find(listed.begin(), listed.end(), entry) == listed.end()) {
      unlisted.insert(entry);
    }
  }
  return unlisted;
}

}  // namespace oncemq::client
