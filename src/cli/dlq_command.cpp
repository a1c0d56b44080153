// `oncemq dlq list|replay`: the dead letters of an idempotent consumer group (`<group>.dlq`, DESIGN.md §3),
// for people: what failed, where it came from and why, and sending chosen ones back through the group's
// first retry topic once the cause is fixed.
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/dlq_format.h"
#include "cli/dlq_reader.h"
#include "cli/dlq_replay.h"
#include "cli/text_table.h"
#include "client/consumer/retry_route.h"
#include "oncemq/idempotent_consumer.h"

namespace oncemq::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr size_t kPreviewChars = 32;
constexpr size_t kCellChars = 100;

struct DlqArguments {
  AdminConnectOptions connect;
  std::string group;
  size_t limit = 100;
  bool json = false;
  std::vector<std::string> ids;
  bool all = false;
  bool dry_run = false;
};

int Fail(std::string_view command, const Status& status) {
  std::cerr << "oncemq dlq " << command << ": error: " << status.message() << "\n";
  return kExitFailure;
}

int64_t WallNowMs() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Cell(std::optional<std::string_view> value) {
  return value ? PrintablePreview(*value, kCellChars) : "-";
}

std::string Origin(const DeadLetter& letter) {
  auto topic = letter.Header(headers::kOriginTopic);
  if (!topic) return "-";
  return PrintablePreview(*topic, kCellChars) + "/" + Cell(letter.Header(headers::kOriginPartition)) + "@" +
         Cell(letter.Header(headers::kOriginOffset));
}

std::optional<std::string_view> RecordKey(const DeadLetter& letter) {
  return letter.key ? std::optional<std::string_view>(*letter.key) : std::nullopt;
}

int64_t Attempts(const DeadLetter& letter) {
  return client::ParseHeaderNumber(letter.Header(headers::kAttempt), 0);
}

void PrintTable(const std::vector<DeadLetter>& letters, int64_t now_ms) {
  TextTable table({"ID", "MSG-ID", "KEY", "ORIGIN", "ATTEMPTS", "AGE", "SIZE", "PAYLOAD", "ERROR"});
  for (const DeadLetter& l : letters) {
    table.AddRow({l.Id(), Cell(l.Header(headers::kMsgId)), Cell(RecordKey(l)), Origin(l),
                  std::to_string(Attempts(l)), FormatSpan(std::max<int64_t>(now_ms - l.timestamp_ms, 0)),
                  std::to_string(l.payload.size()), PrintablePreview(l.payload, kPreviewChars),
                  Cell(l.Header(headers::kError))});
  }
  table.Print(std::cout);
}

nlohmann::ordered_json OrNull(std::optional<std::string_view> value) {
  return value ? nlohmann::ordered_json(std::string(*value)) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json NumberOrNull(std::optional<std::string_view> value) {
  constexpr int64_t kAbsent = -1;
  const int64_t number = client::ParseHeaderNumber(value, kAbsent);
  return number == kAbsent ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(number);
}

nlohmann::ordered_json ToJson(const DeadLetter& l, int64_t now_ms) {
  nlohmann::ordered_json headers_json = nlohmann::ordered_json::object();
  for (const HeaderField& h : l.headers) headers_json[h.name] = OrNull(h.value);
  return {{"id", l.Id()},
          {"partition", l.partition},
          {"offset", l.offset},
          {"msg_id", OrNull(l.Header(headers::kMsgId))},
          {"key", OrNull(RecordKey(l))},
          {"origin_topic", OrNull(l.Header(headers::kOriginTopic))},
          {"origin_partition", NumberOrNull(l.Header(headers::kOriginPartition))},
          {"origin_offset", NumberOrNull(l.Header(headers::kOriginOffset))},
          {"attempts", Attempts(l)},
          {"error", OrNull(l.Header(headers::kError))},
          {"timestamp_ms", l.timestamp_ms},
          {"age_ms", std::max<int64_t>(now_ms - l.timestamp_ms, 0)},
          {"payload_size", l.payload.size()},
          {"payload_preview", PrintablePreview(l.payload, kPreviewChars)},
          {"headers", std::move(headers_json)}};
}

void PrintJson(const std::vector<DeadLetter>& letters, int64_t now_ms) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const DeadLetter& letter : letters) array.push_back(ToJson(letter, now_ms));
  // Keys and header values are bytes; invalid UTF-8 becomes U+FFFD rather than an exception.
  std::cout << array.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

int RunList(const DlqArguments& args) {
  const std::string topic = DeadLetterTopicName(args.group);
  auto letters = ReadDeadLetters(args.connect, topic);
  if (!letters.ok() && letters.status().code() != StatusCode::kNotFound)
    return Fail("list", letters.status());
  const std::vector<DeadLetter> none;
  const std::vector<DeadLetter>& all = letters.ok() ? *letters : none;
  if (all.empty() && !args.json) {
    std::cout << "no dead letters (" << topic << (letters.ok() ? " is empty" : " does not exist") << ")\n";
    return 0;
  }
  const size_t shown = args.limit == 0 ? all.size() : std::min(all.size(), args.limit);
  const std::vector<DeadLetter> rows(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(shown));
  const int64_t now_ms = WallNowMs();
  if (args.json) {
    PrintJson(rows, now_ms);
  } else {
    PrintTable(rows, now_ms);
  }
  if (shown < all.size()) {
    (args.json ? std::cerr : std::cout)
        << "showing the first " << shown << " of " << all.size() << " dead letters; --limit 0 shows all\n";
  }
  return 0;
}

void PrintChosen(const std::vector<DeadLetter>& letters) {
  TextTable table({"ID", "MSG-ID", "KEY", "ORIGIN"});
  for (const DeadLetter& l : letters) {
    table.AddRow({l.Id(), Cell(l.Header(headers::kMsgId)), Cell(RecordKey(l)), Origin(l)});
  }
  table.Print(std::cout);
}

// The dead letters the arguments name; an id that is not in the topic is an error.
Result<std::vector<DeadLetter>> ChooseLetters(const DlqArguments& args) {
  std::vector<DeadLetterId> ids;
  for (const std::string& text : args.ids) {
    auto id = ParseDeadLetterId(text);
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  const std::string topic = DeadLetterTopicName(args.group);
  auto letters = ReadDeadLetters(args.connect, topic);
  if (!letters.ok() && letters.status().code() == StatusCode::kNotFound) {
    if (args.all) return std::vector<DeadLetter>{};
    return Status::NotFound("group " + args.group + " has no dead letters (" + topic +
                            " does not exist); nothing sent");
  }
  if (!letters.ok()) return letters.status();
  if (args.all) return std::move(*letters);
  auto chosen = SelectDeadLetters(*letters, ids);
  if (!chosen.ok()) return Status::NotFound(chosen.status().message() + "; nothing sent");
  return chosen;
}

int PrintOutcomes(const std::vector<DeadLetter>& letters, const std::vector<ReplayOutcome>& outcomes,
                  const std::string& retry_topic) {
  TextTable table({"ID", "MSG-ID", "KEY", "RESULT"});
  size_t acknowledged = 0;
  for (size_t i = 0; i < letters.size(); ++i) {
    const ReplayOutcome& o = outcomes[i];
    acknowledged += o.acknowledged ? 1 : 0;
    std::string result = o.acknowledged ? "re-sent as " + retry_topic + "/" + std::to_string(o.partition) +
                                              "@" + std::to_string(o.offset)
                                        : "NOT ACKNOWLEDGED: " + PrintablePreview(o.error, 2 * kCellChars);
    table.AddRow({o.id, Cell(letters[i].Header(headers::kMsgId)), Cell(RecordKey(letters[i])), result});
  }
  table.Print(std::cout);
  std::cout << "Re-sent " << acknowledged << " of " << letters.size() << " dead letter(s) to " << retry_topic
            << " (attempt 0, due now); the group's consumer handles them again.\n"
            << "Replayed entries stay listed by `oncemq dlq list`: the dead-letter topic is append-only "
               "(Kafka topics cannot delete single messages).\n";
  if (acknowledged == letters.size()) return 0;
  std::cerr << "oncemq dlq replay: error: " << letters.size() - acknowledged << " of " << letters.size()
            << " copies were not appended (see RESULT)\n";
  return kExitFailure;
}

// The consumer creates its retry topics when it starts; replaying into a missing one would let the broker
// auto-create it with its defaults, or fail.
Status MissingRetryTopicExplained(const Status& status, const std::string& retry_topic) {
  if (status.code() != StatusCode::kNotFound) return status;
  return Status::NotFound(retry_topic +
                          " does not exist; start the group's idempotent consumer once (it creates its retry "
                          "topics), then replay; nothing sent");
}

int RunReplay(const DlqArguments& args) {
  if (args.all == !args.ids.empty()) {
    return Fail("replay",
                Status::InvalidArgument("name the dead letters with --id P:O (repeatable) or --all"));
  }
  auto letters = ChooseLetters(args);
  if (!letters.ok()) return Fail("replay", letters.status());
  if (letters->empty()) {
    std::cout << "no dead letters; nothing sent\n";
    return 0;
  }
  const std::string retry_topic = RetryTopicName(args.group, 1);
  if (args.dry_run) {
    auto exists = FetchOffsetRanges(args.connect, retry_topic);
    if (!exists.ok()) return Fail("replay", MissingRetryTopicExplained(exists.status(), retry_topic));
    std::cout << "Would re-send " << letters->size() << " dead letter(s) to " << retry_topic
              << " (dry run: nothing sent):\n";
    PrintChosen(*letters);
    return 0;
  }
  auto replayer = DeadLetterReplayer::Open(args.connect, retry_topic);
  if (!replayer.ok()) return Fail("replay", MissingRetryTopicExplained(replayer.status(), retry_topic));
  return PrintOutcomes(*letters, (*replayer)->Send(*letters, WallNowMs()), retry_topic);
}

void AddGroupOption(CLI::App* command, std::string* group) {
  command->add_option("--group", *group, "The idempotent consumer's group: reads <group>.dlq")->required();
}

void AddListCommand(CLI::App* dlq, int* exit_code) {
  auto args = std::make_shared<DlqArguments>();
  CLI::App* list = dlq->add_subcommand(
      "list", "Show the group's dead letters: id, msg-id, key, origin, attempts, age, size, payload, error");
  AddConnectOptions(list, &args->connect);
  AddGroupOption(list, &args->group);
  list->add_option("--limit", args->limit, "Show at most N dead letters, oldest first (0: all)")
      ->capture_default_str();
  list->add_flag("--json", args->json, "Print a JSON array, one object per dead letter, with all headers");
  list->callback([args, exit_code] { *exit_code = RunList(*args); });
}

void AddReplayCommand(CLI::App* dlq, int* exit_code) {
  auto args = std::make_shared<DlqArguments>();
  CLI::App* replay = dlq->add_subcommand(
      "replay",
      "Send dead letters back to <group>.retry.1, attempt count reset, for the group to handle again");
  AddConnectOptions(replay, &args->connect);
  AddGroupOption(replay, &args->group);
  auto* ids =
      replay->add_option("--id", args->ids, "A dead letter's PARTITION:OFFSET (see list); repeatable");
  auto* all = replay->add_flag("--all", args->all, "Every dead letter the topic holds now");
  ids->excludes(all);
  replay->add_flag("--dry-run", args->dry_run, "Show what would be re-sent, and send nothing");
  replay->callback([args, exit_code] { *exit_code = RunReplay(*args); });
}

}  // namespace

void AddDlqCommands(CLI::App& app, int* exit_code) {
  CLI::App* dlq = app.add_subcommand("dlq", "List and replay an idempotent consumer group's dead letters");
  dlq->require_subcommand(1);
  AddListCommand(dlq, exit_code);
  AddReplayCommand(dlq, exit_code);
}

}  // namespace oncemq::cli
