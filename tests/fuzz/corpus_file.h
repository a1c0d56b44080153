// Writes one seed file of a fuzz corpus; shared by the make_corpus_* programs.
#pragma once

#include <cstdio>
#include <string>

#include "common/bytes.h"

namespace oncemq::fuzz {

// Writes `bytes` to dir/name, replacing it. False on any I/O failure.
inline bool WriteSeed(const std::string& dir, const std::string& name, const Bytes& bytes) {
  std::string path = dir + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace oncemq::fuzz
