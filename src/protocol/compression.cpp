#include "protocol/compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <string>

namespace oncemq::protocol {
namespace {

Status TooLarge(Compression codec, size_t limit) {
  return Status::ResourceExhausted(std::string(CompressionName(codec)) +
                                   ": decompressed size exceeds the limit of " + std::to_string(limit) +
                                   " bytes");
}

Status Corrupt(Compression codec, std::string_view what) {
  return Status::Corruption(std::string(CompressionName(codec)) + ": " + std::string(what));
}

// Output buffer for streaming decoders. It grows geometrically but never holds more than limit + 1
// bytes: a decoder that fills that last byte has proved the output is over the limit.
class BoundedSink {
 public:
  BoundedSink(Bytes& out, size_t limit, size_t input_size)
      : out_(out), cap_max_(limit == SIZE_MAX ? limit : limit + 1), limit_(limit) {
    out_.clear();
    size_t hint = input_size > SIZE_MAX / 4 ? SIZE_MAX : input_size * 4;
    out_.resize(std::min(cap_max_, std::max<size_t>(hint, 1024)));
  }

  // Ensures free_size() > 0. REQUIRES: !over_limit().
  void Reserve() {
    if (used_ < out_.size()) return;
    size_t grown = out_.size() > cap_max_ / 2 ? cap_max_ : out_.size() * 2;
    out_.resize(grown);
  }
  uint8_t* free_begin() { return out_.data() + used_; }
  size_t free_size() const { return out_.size() - used_; }
  void Commit(size_t n) { used_ += n; }
  bool over_limit() const { return used_ > limit_; }
  void Finish() { out_.resize(used_); }

 private:
  Bytes& out_;
  size_t cap_max_;
  size_t limit_;
  size_t used_ = 0;
};

// ---- gzip ----

Status InflateGzip(ByteView in, Bytes& out, size_t limit) {
  constexpr auto kCodec = Compression::kGzip;
  if (in.size() > UINT_MAX) return Status::InvalidArgument("gzip: input larger than 4 GiB");
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::ResourceExhausted("gzip: cannot allocate inflater");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  BoundedSink sink(out, limit, in.size());
  for (;;) {
    sink.Reserve();
    zs.next_out = sink.free_begin();
    zs.avail_out = static_cast<uInt>(std::min<size_t>(sink.free_size(), UINT_MAX));
    uInt before = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    sink.Commit(before - zs.avail_out);
    if (sink.over_limit()) return TooLarge(kCodec, limit);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) return Corrupt(kCodec, "cannot reset between members");
      continue;  // another gzip member follows
    }
    if (rc == Z_BUF_ERROR) return Corrupt(kCodec, "truncated stream");
    if (rc != Z_OK) return Corrupt(kCodec, zs.msg != nullptr ? zs.msg : "invalid stream");
  }
  sink.Finish();
  return Status::Ok();
}

Result<Bytes> DeflateGzip(ByteView in) {
  if (in.size() > UINT_MAX) return Status::InvalidArgument("gzip: input larger than 4 GiB");
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::ResourceExhausted("gzip: cannot allocate deflater");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return Status::InvalidArgument("gzip: deflate did not finish");
  out.resize(zs.total_out);
  return out;
}

// ---- snappy ----

constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;  // magic + int32 version + int32 min compatible version

bool IsXerial(ByteView in) {
  return in.size() >= kXerialHeaderSize && std::memcmp(in.data(), kXerialMagic, sizeof kXerialMagic) == 0;
}

// Appends the decompression of one raw snappy block to `out`, keeping out.size() <= limit.
Status AppendRawSnappy(ByteView block, Bytes& out, size_t limit) {
  constexpr auto kCodec = Compression::kSnappy;
  auto src = reinterpret_cast<const char*>(block.data());
  size_t n = 0;
  if (snappy_uncompressed_length(src, block.size(), &n) != SNAPPY_OK) return Corrupt(kCodec, "bad length");
  if (n > limit - out.size()) return TooLarge(kCodec, limit);
  size_t at = out.size();
  out.resize(at + n + 1);  // + 1 keeps the destination pointer valid when n == 0
  size_t got = n;
  if (snappy_uncompress(src, block.size(), reinterpret_cast<char*>(out.data() + at), &got) != SNAPPY_OK ||
      got != n) {
    return Corrupt(kCodec, "invalid block");
  }
  out.resize(at + n);
  return Status::Ok();
}

Status UnsnappyXerial(ByteView in, Bytes& out, size_t limit) {
  size_t pos = kXerialHeaderSize;
  while (pos < in.size()) {
    if (in.size() - pos < 4) return Corrupt(Compression::kSnappy, "truncated xerial block length");
    size_t len = LoadBe32(in.data() + pos);
    pos += 4;
    if (len > in.size() - pos) return Corrupt(Compression::kSnappy, "xerial block runs past the end");
    Status s = AppendRawSnappy(in.subspan(pos, len), out, limit);
    if (!s.ok()) return s;
    pos += len;
  }
  return Status::Ok();
}

Status Unsnappy(ByteView in, Bytes& out, size_t limit) {
  out.clear();
  return IsXerial(in) ? UnsnappyXerial(in, out, limit) : AppendRawSnappy(in, out, limit);
}

Result<Bytes> Snappy(ByteView in) {
  static const char kEmpty = 0;
  const char* src = in.empty() ? &kEmpty : reinterpret_cast<const char*>(in.data());
  size_t n = snappy_max_compressed_length(in.size());
  Bytes out(n);
  if (snappy_compress(src, in.size(), reinterpret_cast<char*>(out.data()), &n) != SNAPPY_OK) {
    return Status::InvalidArgument("snappy: compression failed");
  }
  out.resize(n);
  return out;
}

// ---- lz4 ----

Status Unlz4(ByteView in, Bytes& out, size_t limit) {
  constexpr auto kCodec = Compression::kLz4;
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return Status::ResourceExhausted("lz4: cannot allocate decompression context");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw, LZ4F_freeDecompressionContext);
  BoundedSink sink(out, limit, in.size());
  size_t pos = 0;
  for (;;) {
    sink.Reserve();
    size_t src = in.size() - pos;
    size_t dst = sink.free_size();
    size_t hint = LZ4F_decompress(ctx.get(), sink.free_begin(), &dst, in.data() + pos, &src, nullptr);
    if (LZ4F_isError(hint)) return Corrupt(kCodec, LZ4F_getErrorName(hint));
    pos += src;
    sink.Commit(dst);
    if (sink.over_limit()) return TooLarge(kCodec, limit);
    if (hint == 0 && pos == in.size()) break;  // the last frame is complete and flushed
    if (src == 0 && dst == 0) return Corrupt(kCodec, "truncated frame");
  }
  sink.Finish();
  return Status::Ok();
}

Result<Bytes> Lz4(ByteView in) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  Bytes out(LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) return Status::InvalidArgument(std::string("lz4: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

// ---- zstd ----

Status UnzstdStreaming(ByteView in, Bytes& out, size_t limit) {
  constexpr auto kCodec = Compression::kZstd;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return Status::ResourceExhausted("zstd: cannot allocate decompression context");
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  BoundedSink sink(out, limit, in.size());
  for (;;) {
    sink.Reserve();
    ZSTD_outBuffer dst{sink.free_begin(), sink.free_size(), 0};
    size_t consumed_before = src.pos;
    size_t hint = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(hint)) return Corrupt(kCodec, ZSTD_getErrorName(hint));
    sink.Commit(dst.pos);
    if (sink.over_limit()) return TooLarge(kCodec, limit);
    if (hint == 0 && src.pos == src.size) break;  // the last frame is complete and flushed
    if (dst.pos == 0 && src.pos == consumed_before) return Corrupt(kCodec, "truncated frame");
  }
  sink.Finish();
  return Status::Ok();
}

Status Unzstd(ByteView in, Bytes& out, size_t limit) {
  constexpr auto kCodec = Compression::kZstd;
  unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return Corrupt(kCodec, "not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) return UnzstdStreaming(in, out, limit);
  if (size > limit) return TooLarge(kCodec, limit);
  out.resize(static_cast<size_t>(size) + 1);  // + 1 keeps the destination pointer valid when size == 0
  size_t n = ZSTD_decompress(out.data(), static_cast<size_t>(size), in.data(), in.size());
  if (!ZSTD_isError(n)) {
    out.resize(n);
    return Status::Ok();
  }
  // More frames follow the first one; their total is unknown up front.
  if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return UnzstdStreaming(in, out, limit);
  return Corrupt(kCodec, ZSTD_getErrorName(n));
}

Result<Bytes> Zstd(ByteView in) {
  Bytes out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
  if (ZSTD_isError(n)) return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Status Copy(ByteView in, Bytes& out, size_t limit) {
  if (in.size() > limit) return TooLarge(Compression::kNone, limit);
  out.assign(in.begin(), in.end());
  return Status::Ok();
}

}  // namespace

std::string_view CompressionName(Compression codec) {
  switch (codec) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kSnappy: return "snappy";
    case Compression::kLz4: return "lz4";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

Status DecompressInto(Compression codec, ByteView input, Bytes& out, size_t max_output) {
  switch (codec) {
    case Compression::kNone: return Copy(input, out, max_output);
    case Compression::kGzip: return InflateGzip(input, out, max_output);
    case Compression::kSnappy: return Unsnappy(input, out, max_output);
    case Compression::kLz4: return Unlz4(input, out, max_output);
    case Compression::kZstd: return Unzstd(input, out, max_output);
  }
  return Status::InvalidArgument("unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

Result<Bytes> Decompress(Compression codec, ByteView input, size_t max_output) {
  Bytes out;
  Status s = DecompressInto(codec, input, out, max_output);
  if (!s.ok()) return s;
  return out;
}

Result<Bytes> Compress(Compression codec, ByteView input) {
  switch (codec) {
    case Compression::kNone: return Bytes(input.begin(), input.end());
    case Compression::kGzip: return DeflateGzip(input);
    case Compression::kSnappy: return Snappy(input);
    case Compression::kLz4: return Lz4(input);
    case Compression::kZstd: return Zstd(input);
  }
  return Status::InvalidArgument("unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace oncemq::protocol
