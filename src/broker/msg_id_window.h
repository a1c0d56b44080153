// MsgIdWindow: one partition's message-id dedup window (DESIGN.md §2, issue 3) — which `oncemq-msg-id`
// values were appended within the last `window_ms` milliseconds, and at which offset.
//
// The window is in memory only: the broker rebuilds it on start by replaying the log (Insert in log order),
// so nothing here is persisted and the hash seed may differ between processes.
//
// Representation. Each Insert appends a 32-byte entry {128-bit hash of the id, offset, append time} to a ring
// kept in insertion order, which is time order (times are clamped to be non-decreasing) and offset order.
// An open-addressing table of 64-bit slots (linear probing, load <= 3/4) maps a hash to its ring position;
// each slot also keeps the low 32 bits of the hash, which both pick the home slot and serve as a fingerprint,
// so a probe reads the ring only for a slot whose 32 bits match. Entries leave only from the ends of the
// ring — the oldest by expiry or by the max_entries bound, the newest by TruncateTo — and their slots are
// removed by backward shift, so the table never holds tombstones; the shift finds each slot's home in the
// slot itself, so removing an entry reads the ring only at that entry.
//
// Memory: 32 B per ring place and 8 B per table slot (1.33–2.67 slots per ring place), each array of 2 MiB
// or more rounded up to whole 2 MiB huge pages, plus the object. With 1,000,000 ids held that is 50.3 B per
// id when max_entries is 1,000,000 and 52.4 B when it is larger; just after a growth step (ring 1.5x, capped
// at max_entries, table rebuilt with it) it can be up to 1.5x as much per held id. Once the ring has room for
// the steady state, Insert allocates nothing. Memory is kept when the window empties.
//
// Identity is the 128-bit hash, not the id bytes: two different ids are confused only if all 128 bits agree.
// For n ids held at once that chance is about n^2 / 2^129 (below 10^-26 at 10^6 ids). The hash is a fast
// non-cryptographic one keyed by a per-process random seed, so a producer cannot precompute colliding ids;
// it is not a defence against a producer that can observe the seed.
//
// Thread safety: not thread-safe; the owning partition serialises every call under its append lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace oncemq::broker {

class MsgIdWindow {
 public:
  // The largest accepted max_entries; larger values are clamped to it (the ring position must fit in a slot).
  static constexpr size_t kMaxEntriesLimit = size_t{1} << 30;

  // An id's 128-bit keyed hash: its identity in the window (see above). A caller that looks an id up and
  // later inserts it computes the hash once with HashOf and passes it to the Hash overloads. Hashes are
  // equal only within one process; they are never stored or sent.
  struct Hash {
    uint64_t lo = 0;  // its low 32 bits pick the home slot and are kept in the slot
    uint64_t hi = 0;
    bool operator==(const Hash&) const = default;
  };

  // window_ms: how long an id stays "seen" after its append; 0 means nothing is ever found.
  // max_entries: the bound on held entries, clamped to [1, kMaxEntriesLimit]. Nothing is allocated until
  // the first Insert.
  // REQUIRES: window_ms >= 0.
  MsgIdWindow(int64_t window_ms, size_t max_entries);

  MsgIdWindow(const MsgIdWindow&) = delete;
  MsgIdWindow& operator=(const MsgIdWindow&) = delete;
  MsgIdWindow(MsgIdWindow&&) = default;
  MsgIdWindow& operator=(MsgIdWindow&&) = default;

  // The offset of the newest record with this id whose append time is within the window as seen at now_ms
  // (append_time > now_ms - window_ms), or nullopt. Does not change the window: entries outside the window
  // are not found even before ExpireUpTo forgets them.
  std::optional<Offset> Find(std::string_view msg_id, int64_t now_ms) const {
    return Find(HashOf(msg_id), now_ms);
  }
  // The same for the id whose HashOf is `hash`.
  std::optional<Offset> Find(const Hash& hash, int64_t now_ms) const;

  // This window's hash of msg_id (the same in every window of this process).
  Hash HashOf(std::string_view msg_id) const;

  // A hint that Find or Insert of this id comes soon: starts loading its table slot. A whole batch's ids
  // prefetched before they are looked up overlap their cache misses instead of paying them one by one.
  void Prefetch(std::string_view msg_id) const { Prefetch(HashOf(msg_id)); }
  void Prefetch(const Hash& hash) const;

  // Records that the record at `offset` with this id was appended (durably) at append_time_ms, the broker's
  // wall clock. A time below an earlier Insert's time is clamped up to it, so small clock steps backwards are
  // harmless. Forgets entries that have left the window as of append_time_ms. When the window holds
  // max_entries entries, the oldest is dropped (counted in early_evictions() if it was still within the
  // window). If the id is already held, the new entry wins: Find returns the new offset.
  // REQUIRES: offset is greater than the offset of every entry held.
  void Insert(std::string_view msg_id, Offset offset, int64_t append_time_ms) {
    Insert(HashOf(msg_id), offset, append_time_ms);
  }
  // The same for the id whose HashOf is `hash`.
  void Insert(const Hash& hash, Offset offset, int64_t append_time_ms);

  // The log was cut back to `end`: forgets every entry with offset >= end (the newest ones). If such an entry
  // had replaced an older entry of the same id, the older one is not found again either.
  void TruncateTo(Offset end);

  // Forgets every entry with append time <= now_ms - window_ms. Amortised O(1) per forgotten entry.
  void ExpireUpTo(int64_t now_ms);

  // The topic's dedup.window.ms changed. A shorter window takes effect in Find at once and in size() at the
  // next ExpireUpTo or Insert; a longer one cannot bring back entries already forgotten.
  // REQUIRES: window_ms >= 0.
  void set_window_ms(int64_t window_ms);
  int64_t window_ms() const { return window_ms_; }

  // Entries held, including ones replaced by a newer insert of the same id and ones past the window that
  // have not been expired yet.
  size_t size() const { return size_; }
  // Entries dropped before their window ended because max_entries was reached (oldest first).
  uint64_t early_evictions() const { return early_evictions_; }
  // Bytes this structure owns: the allocated capacity of the ring and the table, plus the object itself.
  size_t memory_bytes() const;

 private:
  // Places arrays of 2 MiB or more on 2 MiB boundaries and asks the kernel for transparent huge pages
  // there: the ring and the table are read at random, and with 4 KiB pages most of those reads would also
  // miss the TLB. Smaller arrays come from operator new.
  static void* AllocateBytes(size_t bytes);
  static void FreeBytes(void* p, size_t bytes);
  static size_t AllocatedBytes(size_t bytes);  // what AllocateBytes(bytes) takes
  template <typename T>
  struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <typename U>
    HugePageAllocator(const HugePageAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(AllocateBytes(n * sizeof(T))); }
    void deallocate(T* p, size_t n) { FreeBytes(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const HugePageAllocator<U>&) const {
      return true;
    }
  };

  struct Entry {
    Hash hash;
    Offset offset;
    int64_t time_ms = 0;
  };
  // Marks a ring entry replaced by a newer entry of the same id, so that rebuilding the table leaves it out
  // (an id whose hash is all ones, a 2^-128 chance, is likewise left out of a rebuild and forgotten early).
  static constexpr Hash kReplaced{~uint64_t{0}, ~uint64_t{0}};
  static constexpr uint64_t kEmpty = 0;
  static constexpr size_t kNotFound = ~size_t{0};

  int64_t Cutoff(int64_t now_ms) const;  // entries with time <= Cutoff(now) are outside the window
  bool WithinWindow(const Entry& e, int64_t now_ms) const { return e.time_ms > Cutoff(now_ms); }

  size_t RingIndex(size_t i) const;  // physical index of the i-th oldest entry
  void Grow();
  void PopOldest();
  void PopNewest();

  // Table operations. A slot holds (low 32 bits of the hash << 32) | (ring position + 1); 0 is empty. The
  // table has at most 2^31 slots, so the kept hash bits include every bit that picks the home slot.
  static uint64_t SlotOf(const Hash& h, uint32_t pos) { return (h.lo << 32) | (uint64_t{pos} + 1); }
  static uint32_t TagOf(const Hash& h) { return static_cast<uint32_t>(h.lo); }
  static uint32_t TagOf(uint64_t slot) { return static_cast<uint32_t>(slot >> 32); }
  static uint32_t PosOf(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }
  size_t Home(const Hash& h) const { return TagOf(h) & table_mask_; }
  size_t Home(uint64_t slot) const { return TagOf(slot) & table_mask_; }
  size_t FindSlot(const Hash& h) const;  // the slot pointing at an entry with this hash, or kNotFound
  void Index(uint32_t pos);              // points the table at ring_[pos], replacing a slot with equal hash
  void Unindex(uint32_t pos);            // removes the slot pointing at ring_[pos], if any
  void RebuildTable();

  int64_t window_ms_;
  size_t max_entries_;
  uint64_t seed_[4];  // hash keys, derived from the per-process seed

  // ring_.size() is the capacity; entries live at RingIndex(0 .. size_-1).
  std::vector<Entry, HugePageAllocator<Entry>> ring_;
  size_t head_ = 0;  // physical index of the oldest entry
  size_t size_ = 0;
  int64_t last_time_ms_;  // the newest (clamped) append time

  std::vector<uint64_t, HugePageAllocator<uint64_t>> table_;
  size_t table_mask_ = 0;

  uint64_t early_evictions_ = 0;
};

}  // namespace oncemq::broker
