// `oncemq dedup show`: what a dedup store (DESIGN.md §3) holds for business keys of a consumer group — the
// state of each key's record, who holds it, until when, how often it failed and why. Read-only: it only
// calls NowMs and Get.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/dlq_format.h"
#include "cli/store_uri.h"
#include "client/stores/open_dedup_store.h"
#include "oncemq/dedup_store.h"

namespace oncemq::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr size_t kCellChars = 200;

struct DedupShowArguments {
  std::string store_uri;
  std::string group;
  std::vector<std::string> keys;
};

int Fail(const Status& status) {
  std::cerr << "oncemq dedup show: error: " << status.message() << "\n";
  return kExitFailure;
}

std::string_view StateName(DedupState state) {
  switch (state) {
    case DedupState::kConsuming: return "CONSUMING";
    case DedupState::kConsumed: return "CONSUMED";
    case DedupState::kReleased: return "RELEASED";
  }
  return "UNKNOWN";
}

Result<std::unique_ptr<DedupStore>> OpenStore(const std::string& uri) {
  if (Status status = CheckSqliteFileExists(uri); !status.ok()) return status;
  auto store = client::OpenDedupStore(uri);
  if (!store.ok())
    return Status(store.status().code(), "cannot open store " + uri + ": " + store.status().message());
  return store;
}

std::string Time(int64_t at_ms, int64_t now_ms) {
  if (at_ms == 0) return "-";
  return FormatUtcMs(at_ms) + " (" + FormatRelative(at_ms, now_ms) + ")";
}

std::string Text(const std::string& value) {
  return value.empty() ? "-" : PrintablePreview(value, kCellChars);
}

std::string Text(const std::optional<std::string>& value) {
  return value ? Text(*value) : "-";
}

void PrintRecord(const DedupRecord& r, int64_t now_ms) {
  const std::pair<std::string_view, std::string> fields[] = {
      {"state", std::string(StateName(r.state))},
      {"owner", Text(r.owner)},
      {"fencing token", std::to_string(r.fencing_token)},
      // Each time is in force in one state only; a left-over value elsewhere would mislead.
      {"lease until", r.state == DedupState::kConsuming ? Time(r.lease_until_ms, now_ms) : "-"},
      {"retain until", r.state == DedupState::kConsumed ? Time(r.retain_until_ms, now_ms) : "-"},
      {"attempts", std::to_string(r.attempts)},
      {"last error", Text(r.last_error)},
      {"payload hash", Text(r.payload_hash)},
      {"result", Text(r.result)},
      {"updated", Time(r.updated_ms, now_ms)},
  };
  for (const auto& [name, value] : fields) {
    std::cout << "  " << name << std::string(14 - name.size(), ' ') << value << "\n";
  }
}

int RunShow(const DedupShowArguments& args) {
  auto store = OpenStore(args.store_uri);
  if (!store.ok()) return Fail(store.status());
  auto now = (*store)->NowMs();
  if (!now.ok())
    return Fail(Status(now.status().code(), "cannot read the store's clock: " + now.status().message()));
  std::cout << "store clock " << FormatUtcMs(*now) << ", group " << args.group << "\n";
  for (const std::string& key : args.keys) {
    auto record = (*store)->Get(args.group, key);
    if (!record.ok()) {
      return Fail(
          Status(record.status().code(), "cannot read key '" + key + "': " + record.status().message()));
    }
    std::cout << "\nkey " << PrintablePreview(key, kCellChars);
    if (!record->has_value()) {
      std::cout << ": no record\n";
      continue;
    }
    std::cout << "\n";
    PrintRecord(**record, *now);
  }
  return 0;
}

}  // namespace

void AddDedupCommands(CLI::App& app, int* exit_code) {
  CLI::App* dedup = app.add_subcommand("dedup", "Look into an idempotent consumer's dedup store");
  dedup->require_subcommand(1);
  auto args = std::make_shared<DedupShowArguments>();
  CLI::App* show = dedup->add_subcommand("show", "Print the dedup record of each business key of a group");
  show->add_option(
          "--store", args->store_uri,
          "Store URI: sqlite:///PATH, redis://HOST:PORT[/DB], postgresql://..., mysql://..., memory:")
      ->required();
  show->add_option("--group", args->group, "Consumer group")->required();
  show->add_option("keys", args->keys, "Business keys to look up")->required();
  show->callback([args, exit_code] { *exit_code = RunShow(*args); });
}

}  // namespace oncemq::cli
