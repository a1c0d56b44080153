// `oncemq bench produce|consume|e2e`: throughput and latency figures for any Kafka-compatible broker.
// Each run prints a human summary and one `RESULT ...` line of key=value pairs for scripts.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli/commands.h"
#include "consume_bench.h"
#include "dedup_bench.h"
#include "e2e_bench.h"
#include "msg_id_window_bench.h"
#include "outbox_bench.h"
#include "produce_bench.h"

namespace oncemq::cli {
namespace {

using bench::ConsumeOptions;
using bench::ConsumeReport;
using bench::ProduceOptions;
using bench::ProduceReport;

constexpr int kExitFailure = 1;

struct ProduceArguments {
  ProduceOptions options;
  std::string idempotence = "on";
};

void PrintProduceReport(const ProduceOptions& options, const ProduceReport& report) {
  fmt::print(
      "produce: {} of {} messages of {} B acknowledged in {:.2f} s (topic {}, acks={}, idempotence={}, "
      "linger={} ms, rate={})\n",
      report.acked, report.sent, options.message_bytes, report.elapsed_s, options.topic, options.acks,
      options.idempotence ? "on" : "off", options.linger_ms,
      options.rate > 0 ? std::to_string(options.rate) + "/s" : "unlimited");
  fmt::print("  throughput:  {:.0f} msgs/s, {:.2f} MB/s\n", report.msgs_per_s, report.mb_per_s);
  fmt::print("  ack latency: p50 {:.3f} ms, p99 {:.3f} ms, p99.9 {:.3f} ms, max {:.3f} ms\n", report.p50_ms,
             report.p99_ms, report.p999_ms, report.max_ms);
  fmt::print("  errors:      {} failed, {} without delivery report{}\n", report.failed, report.undelivered,
             report.first_error.empty() ? "" : " (first: " + report.first_error + ")");
  fmt::print(
      "RESULT produce size={} rate={} sent={} acked={} errors={} seconds={:.3f} msgs_per_s={:.0f} "
      "mb_per_s={:.2f} p50_ms={:.3f} p99_ms={:.3f} p999_ms={:.3f} max_ms={:.3f}\n",
      options.message_bytes, options.rate, report.sent, report.acked, report.failed + report.undelivered,
      report.elapsed_s, report.msgs_per_s, report.mb_per_s, report.p50_ms, report.p99_ms, report.p999_ms,
      report.max_ms);
}

void PrintConsumeReport(const ConsumeOptions& options, const ConsumeReport& report) {
  fmt::print("consume: {} messages, {} payload bytes from topic {} in {:.2f} s{}\n", report.messages,
             report.bytes, options.topic, report.elapsed_s, report.reached_end ? " (read to the end)" : "");
  fmt::print("  throughput: {:.0f} msgs/s, {:.2f} MB/s{}\n", report.msgs_per_s, report.mb_per_s,
             options.group.empty()
                 ? ""
                 : fmt::format(" (group {}, first message after {:.2f} s)", options.group, report.join_s));
  fmt::print("  errors:     {}{}\n", report.errors,
             report.first_error.empty() ? "" : " (first: " + report.first_error + ")");
  fmt::print(
      "RESULT consume messages={} bytes={} errors={} seconds={:.3f} msgs_per_s={:.0f} mb_per_s={:.2f} "
      "join_s={:.3f}\n",
      report.messages, report.bytes, report.errors, report.elapsed_s, report.msgs_per_s, report.mb_per_s,
      report.join_s);
}

int Fail(std::string_view command, const Status& status) {
  fmt::print(stderr, "oncemq bench {}: error: {}\n", command, status.message());
  return kExitFailure;
}

int RunProduce(ProduceArguments& args) {
  args.options.idempotence = args.idempotence == "on";
  auto report = bench::RunProduceBench(args.options);
  if (!report.ok()) return Fail("produce", report.status());
  PrintProduceReport(args.options, *report);
  // Figures from a run that lost messages are not figures; say so in the exit status too.
  bool clean = report->acked > 0 && report->failed == 0 && report->undelivered == 0;
  return clean ? 0 : kExitFailure;
}

int RunConsume(const ConsumeOptions& options) {
  auto report = bench::RunConsumeBench(options);
  if (!report.ok()) return Fail("consume", report.status());
  PrintConsumeReport(options, *report);
  return report->errors == 0 && report->messages > 0 ? 0 : kExitFailure;
}

void AddCommonOptions(CLI::App* command, std::string* bootstrap, std::string* topic, uint64_t* count,
                      double* duration_s) {
  command->add_option("--bootstrap", *bootstrap, "Broker address HOST:PORT")->capture_default_str();
  command->add_option("--topic", *topic, "Topic to use")->capture_default_str();
  command->add_option("--count", *count, "Stop after this many messages (0: no count bound)")
      ->capture_default_str();
  command->add_option("--duration", *duration_s, "Stop after this many seconds (0: no time bound)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void AddProduceCommand(CLI::App* bench, int* exit_code) {
  auto args = std::make_shared<ProduceArguments>();
  ProduceOptions& o = args->options;
  CLI::App* produce = bench->add_subcommand("produce", "Measure acknowledged produce throughput and latency");
  AddCommonOptions(produce, &o.bootstrap, &o.topic, &o.count, &o.duration_s);
  produce->add_option("--size", o.message_bytes, "Payload bytes per message")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}));
  produce->add_option("--acks", o.acks, "0, 1 or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  produce->add_option("--rate", o.rate, "Messages per second on a fixed schedule (0: as fast as possible)")
      ->capture_default_str();
  produce->add_option("--linger-ms", o.linger_ms, "librdkafka linger.ms")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  produce->add_option("--batch-size", o.batch_bytes, "librdkafka batch.size in bytes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  produce->add_option("--idempotence", args->idempotence, "Idempotent producer: on or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  produce->add_flag("--msg-ids", args->options.msg_ids, "Give every message a unique oncemq-msg-id header");
  produce->callback([args, exit_code] { *exit_code = RunProduce(*args); });
}

void AddConsumeCommand(CLI::App* bench, int* exit_code) {
  auto options = std::make_shared<ConsumeOptions>();
  CLI::App* consume = bench->add_subcommand("consume", "Measure the read rate of a topic from its beginning");
  AddCommonOptions(consume, &options->bootstrap, &options->topic, &options->count, &options->duration_s);
  consume->add_option(
      "--group", options->group,
      "Consume as a member of this consumer group (use a fresh name); default: assign partitions");
  consume->callback([options, exit_code] { *exit_code = RunConsume(*options); });
}

}  // namespace

void AddBenchCommands(CLI::App& app, int* exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks on librdkafka, for any Kafka-compatible broker");
  bench->require_subcommand(1);
  AddProduceCommand(bench, exit_code);
  AddConsumeCommand(bench, exit_code);
  bench::AddWindowBench(*bench);
  bench::AddE2eBench(*bench);
  bench::AddDedupBench(*bench);
  bench::AddOutboxBench(*bench);
}

}  // namespace oncemq::cli
