// CRC-32C (Castagnoli), as RecordBatch v2 uses it over bytes [21, end).
// Uses the SSE4.2 crc32 instruction when the CPU has it, else a slicing table. Thread-safe; pure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oncemq::crc32c {

// Extends `crc` (the value returned for the preceding bytes; 0 to start) over [data, data + n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) {
  return Extend(0, data, n);
}

// The table implementation, exposed so tests can compare it with the hardware path.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
bool HardwareAvailable();

}  // namespace oncemq::crc32c
