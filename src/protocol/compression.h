// Codecs for the records section of a compressed RecordBatch v2 (attributes bits 0-2).
//
// Formats, as Kafka clients write them:
//   gzip   — RFC 1952 gzip members (zlib). Decompress also accepts a zlib stream and concatenated members.
//   snappy — Compress writes raw snappy, as librdkafka does. Decompress accepts raw snappy and the xerial
//            framing (magic 82 'SNAPPY' 00, int32 version, int32 min-compatible version, then blocks of
//            big-endian int32 length + raw snappy chunk) that Java clients write.
//   lz4    — LZ4 frame format (lz4frame.h), blocks independent. Decompress accepts concatenated frames.
//   zstd   — zstd frames; one-shot when the frame states its content size, else streaming.
//
// Every decompression is bounded: output longer than `max_output` stops with kResourceExhausted before
// more than max_output + 1 bytes are held, so a zip bomb costs a clear Status, not the process.
// Errors: kCorruption = the input is not a valid stream of that codec (truncated, bad checksum, trailing
// garbage); kResourceExhausted = the output would exceed max_output; kInvalidArgument = unknown codec
// value or an input too large for the codec library. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "protocol/batch_header.h"

namespace oncemq::protocol {

inline constexpr size_t kDefaultMaxDecompressedSize = size_t{64} << 20;

// "none", "gzip", "snappy", "lz4", "zstd", or "unknown".
std::string_view CompressionName(Compression codec);

// Decompresses `input` into a new buffer. kNone returns a copy (still bounded by max_output).
Result<Bytes> Decompress(Compression codec, ByteView input, size_t max_output = kDefaultMaxDecompressedSize);

// As Decompress, but writes into `out` (replacing its contents, reusing its capacity). On error the
// contents of `out` are unspecified. REQUIRES: `input` does not alias `out`.
Status DecompressInto(Compression codec, ByteView input, Bytes& out,
                      size_t max_output = kDefaultMaxDecompressedSize);

// Compresses `input` with the default level of each codec. kNone returns a copy.
Result<Bytes> Compress(Compression codec, ByteView input);

}  // namespace oncemq::protocol
