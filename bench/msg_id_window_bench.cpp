#include "msg_id_window_bench.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "broker/msg_id_window.h"

namespace oncemq::bench {
namespace {

constexpr size_t kIdLength = 26;
constexpr int64_t kIdsPerMs = 100;  // the append clock advances 1 ms per this many ids

struct WindowOptions {
  size_t entries = 1'000'000;
  size_t max_entries = 0;  // 0: the same as entries
};

// Ids as a ULID: 10 Crockford base-32 characters of millisecond time, 16 of randomness, packed in one buffer
// so that making them costs nothing during the timed loops.
class IdSet {
 public:
  IdSet(size_t count, uint64_t seed) : bytes_(count * kIdLength, '0') {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    std::mt19937_64 random(seed);
    for (size_t i = 0; i < count; ++i) {
      char* id = &bytes_[i * kIdLength];
      uint64_t time = 1'700'000'000'000 + i / kIdsPerMs;
      for (size_t c = 10; c-- > 0; time >>= 5) id[c] = kAlphabet[time & 31];
      uint64_t r = random();
      for (size_t c = 10; c < kIdLength; ++c, r >>= 5) {
        if (c == 18) r = random();
        id[c] = kAlphabet[r & 31];
      }
    }
  }
  std::string_view operator[](size_t i) const { return {&bytes_[i * kIdLength], kIdLength}; }

 private:
  std::string bytes_;
};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t TimeOf(size_t i) {
  return static_cast<int64_t>(i) / kIdsPerMs;
}

// What the broker does per produce batch with the window full: look every id up (all new, so all misses),
// then insert them once the batch is appended, each insert expiring the oldest entry.
void ProduceBatch(broker::MsgIdWindow& window, const IdSet& ids, size_t first, size_t count, int64_t now) {
  for (size_t i = first; i < first + count; ++i) window.Prefetch(ids[i]);
  for (size_t i = first; i < first + count; ++i) {
    if (window.Find(ids[i], now)) std::abort();  // every id is new
  }
  for (size_t i = first; i < first + count; ++i) window.Insert(ids[i], Offset(static_cast<int64_t>(i)), now);
}

double NsPer(double seconds, size_t ops) {
  return seconds * 1e9 / static_cast<double>(ops);
}

// ids[0, 3n): the first n fill the window, the next n keep it full while the first n expire (one insert at a
// time), the last n do the same in produce batches of kBatch. never[0, n): ids that are never inserted.
int RunWindowBench(const WindowOptions& options) {
  constexpr size_t kBatch = 1000;
  const size_t n = options.entries;
  const int64_t window_ms = TimeOf(n);  // holds exactly the last n ids
  IdSet ids(3 * n, 1), never(n, 2);
  const size_t max_entries = options.max_entries == 0 ? n : options.max_entries;
  broker::MsgIdWindow window(window_ms, max_entries);

  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) window.Insert(ids[i], Offset(static_cast<int64_t>(i)), TimeOf(i));
  double fill_s = Seconds(start);
  size_t held = window.size();
  double bytes_per_id = static_cast<double>(window.memory_bytes()) / static_cast<double>(held);

  start = std::chrono::steady_clock::now();
  for (size_t i = n; i < 2 * n; ++i) window.Insert(ids[i], Offset(static_cast<int64_t>(i)), TimeOf(i));
  double steady_s = Seconds(start);

  start = std::chrono::steady_clock::now();
  for (size_t i = 2 * n; i < 3 * n; i += kBatch) {
    ProduceBatch(window, ids, i, std::min(kBatch, 3 * n - i), TimeOf(i));
  }
  double batch_s = Seconds(start);

  const int64_t now = TimeOf(3 * n - 1);
  size_t hits = 0, false_hits = 0;
  start = std::chrono::steady_clock::now();
  for (size_t i = 2 * n; i < 3 * n; ++i) hits += window.Find(ids[i], now).has_value();
  double hit_s = Seconds(start);
  start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    false_hits += window.Find(i % 2 ? ids[n + i] : never[i], now).has_value();  // expired or never seen
  }
  double miss_s = Seconds(start);

  // The window holds a suffix of ids[0, 3n) of at most n ids (fewer when n is not a multiple of kIdsPerMs).
  const size_t expected_hits = window.size();
  double fn = static_cast<double>(n);
  fmt::print("window: {} ids of {} characters, window {} ms, max_entries {}\n", n, kIdLength, window_ms,
             max_entries);
  fmt::print("  memory:  {} bytes for {} ids, {:.1f} bytes per id\n", window.memory_bytes(), held,
             bytes_per_id);
  fmt::print("  insert:  {:.0f}/s filling, {:.0f}/s steady (one expiry per insert, {:.0f} ns each)\n",
             fn / fill_s, fn / steady_s, NsPer(steady_s, n));
  fmt::print("  produce: {:.0f} ns per id in batches of {} (look-up, then insert with expiry)\n",
             NsPer(batch_s, n), kBatch);
  fmt::print("  find:    {:.0f}/s hits, {:.0f}/s misses; {} of {} held ids found, {} false hits\n",
             fn / hit_s, fn / miss_s, hits, expected_hits, false_hits);
  fmt::print(
      "RESULT window entries={} bytes_per_id={:.1f} inserts_per_s={:.0f} steady_inserts_per_s={:.0f} "
      "steady_insert_ns={:.1f} produce_ns_per_id={:.1f} finds_per_s={:.0f} hit_finds_per_s={:.0f} "
      "miss_finds_per_s={:.0f}\n",
      n, bytes_per_id, fn / fill_s, fn / steady_s, NsPer(steady_s, n), NsPer(batch_s, n),
      2 * fn / (hit_s + miss_s), fn / hit_s, fn / miss_s);
  return hits == expected_hits && false_hits == 0 ? 0 : 1;
}

}  // namespace

void AddWindowBench(CLI::App& bench) {
  auto options = std::make_shared<WindowOptions>();
  CLI::App* window = bench.add_subcommand("window", "Measure the message-id dedup window's memory and speed");
  window->add_option("--entries", options->entries, "Ids held in the window")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1000}, broker::MsgIdWindow::kMaxEntriesLimit));
  window->add_option("--max-entries", options->max_entries, "The window's bound (0: the same as --entries)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, broker::MsgIdWindow::kMaxEntriesLimit));
  window->callback([options] {
    if (int status = RunWindowBench(*options); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace oncemq::bench
