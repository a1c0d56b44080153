// `oncemq outbox …`: the outbox for people (DESIGN.md §3) — list what waits or failed, send a FAILED
// message again or drop it — and the two ends of its trip: `send` stores messages in an outbox (and
// exits: nothing goes on the wire), `relay` sends what the outbox holds until stopped.
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/dlq_format.h"
#include "cli/store_uri.h"
#include "cli/text_table.h"
#include "oncemq/outbox.h"

namespace oncemq::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitNotFound = 2;
constexpr size_t kCellChars = 60;

struct OutboxArguments {
  std::string uri;
  // list
  bool failed_only = false;
  std::string status;
  int64_t after = 0;
  size_t limit = 100;
  // retry, drop
  int64_t id = 0;
  // send
  std::string topic;
  std::optional<std::string> key;
  std::vector<std::string> headers;  // NAME=VALUE
  std::string msg_id;
  std::vector<std::string> payloads;
  // relay
  std::string bootstrap = "127.0.0.1:9092";
  size_t batch = 500;
  int64_t ack_timeout_ms = 30'000;
  int max_attempts = 3;
  int64_t retry_backoff_ms = 1'000;
  int64_t lease_ms = 0;  // 0: twice the ack time-out plus 10 s
  bool until_empty = false;
};

int Fail(std::string_view command, const Status& status) {
  std::cerr << "oncemq outbox " << command << ": error: " << status.message() << "\n";
  return kExitFailure;
}

Result<std::shared_ptr<Outbox>> OpenExisting(const std::string& uri) {
  if (Status s = CheckSqliteFileExists(uri); !s.ok()) return s;
  return Outbox::Open(uri);
}

std::string Cell(std::string_view text) {
  return text.empty() ? "-" : PrintablePreview(text, kCellChars);
}

std::optional<OutboxStatus> ParseStatus(std::string_view name) {
  for (OutboxStatus s : {OutboxStatus::kSending, OutboxStatus::kSent, OutboxStatus::kFailed}) {
    if (name == OutboxStatusName(s)) return s;
  }
  return std::nullopt;
}

int RunList(const OutboxArguments& args) {
  auto outbox = OpenExisting(args.uri);
  if (!outbox.ok()) return Fail("list", outbox.status());
  OutboxListFilter filter{.status = std::nullopt, .after_id = args.after, .limit = args.limit};
  if (args.failed_only) filter.status = OutboxStatus::kFailed;
  if (!args.status.empty()) {
    filter.status = ParseStatus(args.status);
    if (!filter.status) return Fail("list", Status::InvalidArgument("--status is SENDING, SENT or FAILED"));
  }
  auto entries = (*outbox)->List(filter);
  if (!entries.ok()) return Fail("list", entries.status());
  auto counts = (*outbox)->Counts();
  if (!counts.ok()) return Fail("list", counts.status());
  std::cout << "outbox: " << counts->sending << " SENDING, " << counts->sent << " SENT, " << counts->failed
            << " FAILED\n";
  TextTable table({"ID", "MSG-ID", "TOPIC", "KEY", "STATUS", "ATTEMPTS", "CREATED", "WHERE", "LAST-ERROR"});
  for (const OutboxEntry& e : *entries) {
    const std::string where =
        e.status == OutboxStatus::kSent ? std::to_string(e.partition) + "@" + std::to_string(e.offset) : "-";
    table.AddRow({std::to_string(e.id), e.message.msg_id, Cell(e.message.topic),
                  e.message.key ? Cell(*e.message.key) : "-", std::string(OutboxStatusName(e.status)),
                  std::to_string(e.attempts), FormatUtcMs(e.created_ms), where, Cell(e.last_error)});
  }
  table.Print(std::cout);
  return 0;
}

int RunChange(const OutboxArguments& args, std::string_view command) {
  auto outbox = OpenExisting(args.uri);
  if (!outbox.ok()) return Fail(command, outbox.status());
  auto changed = command == "retry" ? (*outbox)->Retry(args.id) : (*outbox)->Drop(args.id);
  if (!changed.ok()) return Fail(command, changed.status());
  if (!*changed) {
    std::cerr << "oncemq outbox " << command << ": message " << args.id
              << " is not FAILED (or does not exist)\n";
    return kExitNotFound;
  }
  std::cout << (command == "retry" ? "message " + std::to_string(args.id) + " is SENDING again\n"
                                   : "message " + std::to_string(args.id) + " dropped\n");
  return 0;
}

int RunSend(const OutboxArguments& args) {
  auto outbox = Outbox::Open(args.uri);
  if (!outbox.ok()) return Fail("send", outbox.status());
  std::vector<OutgoingMessage> messages;
  std::vector<std::pair<std::string, std::string>> headers;
  for (const std::string& h : args.headers) {
    const size_t eq = h.find('=');
    if (eq == std::string::npos)
      return Fail("send", Status::InvalidArgument("--header takes NAME=VALUE: " + h));
    headers.emplace_back(h.substr(0, eq), h.substr(eq + 1));
  }
  std::vector<std::string> payloads = args.payloads;
  if (payloads.empty()) {
    for (std::string line; std::getline(std::cin, line);) payloads.push_back(line);
  }
  if (!args.msg_id.empty() && payloads.size() != 1) {
    return Fail("send", Status::InvalidArgument("--msg-id names one message; give one payload"));
  }
  for (std::string& p : payloads) {
    messages.push_back(OutgoingMessage{args.topic, args.key, std::move(p), headers, args.msg_id});
  }
  auto ids = (*outbox)->Send(std::move(messages));
  if (!ids.ok()) return Fail("send", ids.status());
  for (const std::string& id : *ids) std::cout << id << "\n";
  return 0;
}

OutboxRelay* running_relay = nullptr;

void StopRelay(int) {
  if (running_relay != nullptr) running_relay->Stop();
}

void PrintStats(const OutboxRelayStats& s) {
  std::cout << "relay: claimed " << s.claimed << ", sent " << s.sent << ", to resend " << s.resends
            << ", failed " << s.failed << ", lost claims " << s.lost_claims << ", store errors "
            << s.store_errors << ", unreachable rounds " << s.unreachable << ", purged " << s.purged << "\n";
}

int RunRelay(const OutboxArguments& args) {
  auto outbox = Outbox::Open(args.uri);
  if (!outbox.ok()) return Fail("relay", outbox.status());
  OutboxRelayOptions options;
  options.producer.bootstrap_servers = args.bootstrap;
  options.producer.ack_timeout = std::chrono::milliseconds(args.ack_timeout_ms);
  options.lease = args.lease_ms > 0 ? std::chrono::milliseconds(args.lease_ms)
                                    : options.producer.ack_timeout * 2 + std::chrono::seconds(10);
  options.batch = args.batch;
  options.retry.max_attempts = args.max_attempts;
  options.retry.retry_backoff = std::chrono::milliseconds(args.retry_backoff_ms);
  auto relay = OutboxRelay::Create(*outbox, options);
  if (!relay.ok()) return Fail("relay", relay.status());
  if (args.until_empty) {
    for (;;) {
      auto n = (*relay)->RunOnce();
      if (!n.ok()) return Fail("relay", n.status());
      auto counts = (*outbox)->Counts();
      if (!counts.ok()) return Fail("relay", counts.status());
      if (counts->sending == 0) break;
      if (*n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // nothing due yet
    }
  } else {
    running_relay = relay->get();
    std::signal(SIGTERM, StopRelay);
    std::signal(SIGINT, StopRelay);
    Status s = (*relay)->Run();
    running_relay = nullptr;
    if (!s.ok()) return Fail("relay", s);
  }
  PrintStats((*relay)->stats());
  return 0;
}

void AddUriOption(CLI::App* command, OutboxArguments* args) {
  command
      ->add_option("--outbox", args->uri,
                   "The outbox: sqlite:///PATH, postgresql://USER@HOST:PORT/DB, mysql://USER@HOST/DB or "
                   "redis://HOST:PORT[/DB]")
      ->required();
}

}  // namespace

void AddOutboxCommands(CLI::App& app, int* exit_code) {
  CLI::App* outbox = app.add_subcommand("outbox", "Look after a reliable producer's outbox");
  outbox->require_subcommand(1);
  auto args = std::make_shared<OutboxArguments>();

  CLI::App* list =
      outbox->add_subcommand("list", "List messages: id, msg-id, topic, key, status, attempts, error");
  AddUriOption(list, args.get());
  list->add_flag("--failed", args->failed_only, "Only FAILED messages");
  list->add_option("--status", args->status, "Only messages in this status: SENDING, SENT or FAILED");
  list->add_option("--after", args->after, "Only ids greater than this (paging)");
  list->add_option("--limit", args->limit, "At most this many rows")->capture_default_str();
  list->callback([args, exit_code] { *exit_code = RunList(*args); });

  for (const char* name : {"retry", "drop"}) {
    CLI::App* change = outbox->add_subcommand(name, std::string(name) == "retry"
                                                        ? "Send a FAILED message again (attempts start over)"
                                                        : "Delete a FAILED message");
    AddUriOption(change, args.get());
    change->add_option("id", args->id, "The message's outbox id (from list)")->required();
    change->callback([args, exit_code, name] { *exit_code = RunChange(*args, name); });
  }

  CLI::App* send = outbox->add_subcommand(
      "send",
      "Store messages in the outbox (one per payload argument, else one per stdin line); prints msg-ids");
  AddUriOption(send, args.get());
  send->add_option("--topic", args->topic, "Topic")->required();
  send->add_option("--key", args->key, "Record key");
  send->add_option("--header", args->headers, "Header NAME=VALUE (repeatable)")->allow_extra_args(false);
  send->add_option("--msg-id", args->msg_id, "The oncemq-msg-id (default: a new one per message)");
  send->add_option("payloads", args->payloads, "Payloads");
  send->callback([args, exit_code] { *exit_code = RunSend(*args); });

  CLI::App* relay = outbox->add_subcommand("relay", "Send what the outbox holds until SIGTERM or SIGINT");
  AddUriOption(relay, args.get());
  relay->add_option("--bootstrap", args->bootstrap, "Kafka bootstrap servers")->capture_default_str();
  relay->add_option("--batch", args->batch, "Messages claimed per round")->capture_default_str();
  relay->add_option("--ack-timeout-ms", args->ack_timeout_ms, "A message unanswered this long is sent again")
      ->capture_default_str();
  relay->add_option("--max-attempts", args->max_attempts, "Sends before a message is FAILED")
      ->capture_default_str();
  relay->add_option("--retry-backoff-ms", args->retry_backoff_ms, "Wait before the first re-send (doubles)")
      ->capture_default_str();
  relay->add_option(
      "--lease-ms", args->lease_ms,
      "How long a claim holds its messages; a killed relay's messages wait this long for another "
      "relay; more than --ack-timeout-ms + 5 s (default: twice --ack-timeout-ms plus 10 s)");
  relay->add_flag("--until-empty", args->until_empty, "Stop once no message is SENDING");
  relay->callback([args, exit_code] { *exit_code = RunRelay(*args); });
}

}  // namespace oncemq::cli
