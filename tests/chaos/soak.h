// The soak length of the chaos scenarios: ONCEMQ_CHAOS_SOAK_SECONDS (set by `--soak N`, chaos_main.cpp),
// 0 when unset — then each scenario runs its bounded CI length.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace oncemq::chaos_test {

inline int64_t SoakSeconds() {
  const char* soak = std::getenv("ONCEMQ_CHAOS_SOAK_SECONDS");
  return soak == nullptr ? 0 : std::atoll(soak);
}

}  // namespace oncemq::chaos_test
