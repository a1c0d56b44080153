// main() of the chaos binaries: GoogleTest's flags, plus `--soak DURATION` (seconds), which runs the
// bounded scenarios with DURATION seconds of faults instead of their CI length. It sets
// ONCEMQ_CHAOS_SOAK_SECONDS, which the scenarios read (and which may also be set directly).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // removes the flags it knows
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--soak") == 0 && i + 1 < argc) {
      const long seconds = std::strtol(argv[i + 1], nullptr, 10);
      if (seconds <= 0) {
        std::fprintf(stderr, "--soak takes a positive number of seconds, not %s\n", argv[i + 1]);
        return 2;
      }
      ::setenv("ONCEMQ_CHAOS_SOAK_SECONDS", std::to_string(seconds).c_str(), 1);
      ++i;
    } else {
      std::fprintf(stderr, "unknown argument %s (GoogleTest's flags, or --soak SECONDS)\n", argv[i]);
      return 2;
    }
  }
  return RUN_ALL_TESTS();
}
