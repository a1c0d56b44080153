// The record format of <dir>/offsets.log (docs/formats.md, "Consumer group offsets") and the in-memory
// image its records replay to. Used by OffsetStore; pure functions and a plain value class.
//
//   record = length:u32 crc:u32 body      ; crc = CRC-32C of body, length = bytes of body
//   body   = version:u8 kind:u8 payload   ; version 1
//
// Thread safety: none of its own; OffsetStore serialises access.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/groups/offset_store.h"
#include "common/bytes.h"
#include "common/status.h"

namespace oncemq::broker::offset_log {

inline constexpr const char* kLogName = "offsets.log";
inline constexpr const char* kTempName = "offsets.log.tmp";  // a rewrite in progress
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 8;  // length, crc

enum class Kind : uint8_t {
  kCommit = 1,       // sets the offsets of some partitions of one group
  kDeleteGroup = 2,  // forgets every offset of one group
};

// What one record says.
struct Mutation {
  Kind kind = Kind::kCommit;
  std::string group;
  std::vector<OffsetCommitEntry> entries;  // kCommit only
};

// Appends the framed record for `m` to `out`.
void AppendRecord(const Mutation& m, Bytes& out);

struct ScanResult {
  uint64_t valid_bytes = 0;  // length of the prefix made of whole, intact records
  std::string damage;        // why the scan stopped before the end; empty when the whole file is intact
};

// Calls `apply` for each whole, intact record at the start of `file`, in order, and stops at the first
// that is torn, fails its CRC or does not parse: that record and everything after it are the damaged
// tail. kUnsupported (nothing applied after it) for an intact record of a version this build does not
// know, which a newer broker wrote and must not be cut.
Result<ScanResult> Scan(ByteView file, const std::function<void(Mutation&&)>& apply);

// The offsets the records leave, and how many bytes rewriting them (one commit record per group) takes.
class OffsetImage {
 public:
  using Groups = std::map<std::string, GroupOffsets, std::less<>>;

  void Apply(Mutation&& m);
  const Groups& groups() const { return groups_; }
  const GroupOffsets* Find(std::string_view group) const;
  uint64_t encoded_bytes() const { return encoded_bytes_; }
  // The live state as records; replaying them gives this image back. encoded_bytes() long.
  Bytes Encode() const;

 private:
  Groups groups_;
  uint64_t encoded_bytes_ = 0;
};

}  // namespace oncemq::broker::offset_log
