#include "broker/msg_id_window.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>

#include <sys/mman.h>

namespace oncemq::broker {
namespace {

constexpr size_t kInitialCapacity = 64;
constexpr size_t kHugePage = size_t{2} << 20;

__extension__ typedef unsigned __int128 Uint128;

// The folded 64x64->128 multiply of wyhash and XXH3: every output bit depends on every input bit of both.
uint64_t Mum(uint64_t a, uint64_t b) {
  Uint128 r = static_cast<Uint128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);  // native byte order: hashes are never stored or sent
  return v;
}

// Drawn once per process; the window is rebuilt from the log on start, so hashes need not be stable.
uint64_t ProcessSeed() {
  static const uint64_t seed = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }();
  return seed;
}

}  // namespace

MsgIdWindow::MsgIdWindow(int64_t window_ms, size_t max_entries)
    : window_ms_(std::max<int64_t>(window_ms, 0)),
      max_entries_(std::clamp<size_t>(max_entries, 1, kMaxEntriesLimit)),
      last_time_ms_(std::numeric_limits<int64_t>::min()) {
  uint64_t s = ProcessSeed();
  for (uint64_t& key : seed_) key = s = SplitMix64(s);
}

// Two lanes over 16-byte blocks, each pairing the words differently and keyed differently, so the lanes
// behave as independent 64-bit hashes; the final mix spreads both lanes over both output halves. The length
// enters the start state, so zero padding of the last block cannot make two ids equal.
MsgIdWindow::Hash MsgIdWindow::HashOf(std::string_view msg_id) const {
  const char* p = msg_id.data();
  size_t n = msg_id.size();
  uint64_t a = seed_[0] ^ n;
  uint64_t b = seed_[1] ^ (n * 0x9e3779b97f4a7c15ULL);
  for (; n > 16; p += 16, n -= 16) {
    uint64_t w0 = Load64(p), w1 = Load64(p + 8);
    a = Mum(w0 ^ seed_[2], w1 ^ a);
    b = Mum(w1 ^ seed_[3], w0 ^ b);
  }
  char tail[16] = {};
  std::memcpy(tail, p, n);
  uint64_t w0 = Load64(tail), w1 = Load64(tail + 8);
  a = Mum(w0 ^ seed_[2], w1 ^ a);
  b = Mum(w1 ^ seed_[3], w0 ^ b);
  return Hash{Mum(a ^ 0xa0761d6478bd642fULL, b ^ 0xe7037ed1a0b428dbULL),
              Mum(std::rotl(a, 32) ^ 0x8ebc6af09c88c6e3ULL, b ^ 0x589965cc75374cc3ULL)};
}

size_t MsgIdWindow::AllocatedBytes(size_t bytes) {
  return bytes < kHugePage ? bytes : (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

void* MsgIdWindow::AllocateBytes(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes);
  void* p = std::aligned_alloc(kHugePage, AllocatedBytes(bytes));
  if (p == nullptr) throw std::bad_alloc();
  madvise(p, bytes, MADV_HUGEPAGE);  // only a hint: without huge pages the window is slower, not wrong
  return p;
}

void MsgIdWindow::FreeBytes(void* p, size_t bytes) {
  if (bytes < kHugePage) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

int64_t MsgIdWindow::Cutoff(int64_t now_ms) const {
  int64_t cutoff;
  if (__builtin_sub_overflow(now_ms, window_ms_, &cutoff)) return std::numeric_limits<int64_t>::min();
  return cutoff;
}

size_t MsgIdWindow::RingIndex(size_t i) const {
  size_t pos = head_ + i;
  return pos < ring_.size() ? pos : pos - ring_.size();
}

std::optional<Offset> MsgIdWindow::Find(const Hash& hash, int64_t now_ms) const {
  if (size_ == 0) return std::nullopt;
  size_t slot = FindSlot(hash);
  if (slot == kNotFound) return std::nullopt;
  const Entry& e = ring_[PosOf(table_[slot])];
  if (!WithinWindow(e, now_ms)) return std::nullopt;
  return e.offset;
}

void MsgIdWindow::Prefetch(const Hash& hash) const {
  if (table_.empty()) return;
  __builtin_prefetch(&table_[Home(hash)]);
}

void MsgIdWindow::Insert(const Hash& hash, Offset offset, int64_t append_time_ms) {
  last_time_ms_ = std::max(last_time_ms_, append_time_ms);
  ExpireUpTo(last_time_ms_);
  if (size_ == ring_.size()) {
    if (ring_.size() < max_entries_) {
      Grow();
    } else {
      if (WithinWindow(ring_[head_], last_time_ms_)) ++early_evictions_;
      PopOldest();
    }
  }
  size_t pos = RingIndex(size_);
  ring_[pos] = Entry{hash, offset, last_time_ms_};
  ++size_;
  Index(static_cast<uint32_t>(pos));
}

void MsgIdWindow::TruncateTo(Offset end) {
  while (size_ > 0 && ring_[RingIndex(size_ - 1)].offset >= end) PopNewest();
}

void MsgIdWindow::ExpireUpTo(int64_t now_ms) {
  while (size_ > 0 && !WithinWindow(ring_[head_], now_ms)) PopOldest();
}

void MsgIdWindow::set_window_ms(int64_t window_ms) {
  window_ms_ = std::max<int64_t>(window_ms, 0);
}

size_t MsgIdWindow::memory_bytes() const {
  return sizeof(*this) + AllocatedBytes(ring_.capacity() * sizeof(Entry)) +
         AllocatedBytes(table_.capacity() * sizeof(uint64_t));
}

void MsgIdWindow::PopOldest() {
  // The oldest entries leave in order: start loading the table slot of one a few pops ahead, so its
  // deletion does not wait on memory.
  constexpr size_t kAhead = 8;
  if (size_ > kAhead) __builtin_prefetch(&table_[Home(ring_[RingIndex(kAhead)].hash)], 1);
  Unindex(static_cast<uint32_t>(head_));
  head_ = RingIndex(1);
  --size_;
  if (size_ == 0) head_ = 0;
}

void MsgIdWindow::PopNewest() {
  Unindex(static_cast<uint32_t>(RingIndex(size_ - 1)));
  --size_;
  if (size_ == 0) head_ = 0;
}

// Moves the entries, oldest first, into a ring 1.5x as large (at most max_entries_), then re-indexes them.
void MsgIdWindow::Grow() {
  size_t capacity = std::min(max_entries_, std::max(kInitialCapacity, ring_.size() + ring_.size() / 2));
  std::vector<Entry, HugePageAllocator<Entry>> ring(capacity);
  for (size_t i = 0; i < size_; ++i) ring[i] = ring_[RingIndex(i)];
  ring_ = std::move(ring);
  head_ = 0;
  RebuildTable();
}

// Sizes the table for a full ring at load <= 3/4 (at most 2^31 slots, as capacity <= kMaxEntriesLimit).
void MsgIdWindow::RebuildTable() {
  size_t capacity = ring_.size();
  size_t slots = std::bit_ceil(capacity + capacity / 3 + 1);
  table_.assign(slots, kEmpty);
  table_mask_ = slots - 1;
  for (size_t i = 0; i < size_; ++i) {
    if (ring_[RingIndex(i)].hash != kReplaced) Index(static_cast<uint32_t>(RingIndex(i)));
  }
}

size_t MsgIdWindow::FindSlot(const Hash& h) const {
  const uint32_t tag = TagOf(h);
  for (size_t i = Home(h);; i = (i + 1) & table_mask_) {
    uint64_t slot = table_[i];
    if (slot == kEmpty) return kNotFound;
    if (TagOf(slot) == tag && ring_[PosOf(slot)].hash == h) return i;
  }
}

void MsgIdWindow::Index(uint32_t pos) {
  const Hash& h = ring_[pos].hash;
  const uint32_t tag = TagOf(h);
  size_t i = Home(h);
  for (; table_[i] != kEmpty; i = (i + 1) & table_mask_) {
    Hash& held = ring_[PosOf(table_[i])].hash;
    if (TagOf(table_[i]) == tag && held == h) {
      held = kReplaced;  // the older entry stays in the ring, but is never indexed again
      break;
    }
  }
  table_[i] = SlotOf(h, pos);
}

// Backward-shift deletion: after emptying slot i, each later slot of the run moves back into the hole unless
// its home lies cyclically in (hole, slot], which keeps every entry reachable from its home without
// tombstones. Each slot's home comes from its own hash bits, so the shift does not read the ring. A replaced
// entry has no slot; the search for it ends at the first empty slot.
void MsgIdWindow::Unindex(uint32_t pos) {
  size_t i = Home(ring_[pos].hash);
  for (;; i = (i + 1) & table_mask_) {
    if (table_[i] == kEmpty) return;  // replaced by a newer entry of the same id
    if (PosOf(table_[i]) == pos) break;
  }
  for (size_t j = (i + 1) & table_mask_; table_[j] != kEmpty; j = (j + 1) & table_mask_) {
    if (((j - Home(table_[j])) & table_mask_) >= ((j - i) & table_mask_)) {
      table_[i] = table_[j];
      i = j;
    }
  }
  table_[i] = kEmpty;
}

}  // namespace oncemq::broker
