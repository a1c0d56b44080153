// Replaying dead letters (`oncemq dlq replay`): choosing them by id, shaping the copies, and sending them to
// the group's first retry topic, so that only this group sees them again (other groups on the origin topic
// handled the original already). The dead-letter topic itself is left as it is: Kafka topics are
// append-only, so a replayed entry stays listed.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/dlq_reader.h"
#include "cli/kafka_admin.h"
#include "cli/rdkafka_client.h"
#include "common/status.h"

namespace oncemq::cli {

struct DeadLetterId {
  int32_t partition = 0;
  int64_t offset = 0;
  auto operator<=>(const DeadLetterId&) const = default;
};

// "PARTITION:OFFSET" (both decimal, not negative); kInvalidArgument names the text otherwise.
Result<DeadLetterId> ParseDeadLetterId(std::string_view text);

// The letters of `all` named by `ids`, in the order of `all`, each once. kNotFound naming every id that is
// not in `all` (then nothing is chosen).
Result<std::vector<DeadLetter>> SelectDeadLetters(const std::vector<DeadLetter>& all,
                                                  const std::vector<DeadLetterId>& ids);

// The headers of a replayed copy: the original's in order, except that oncemq-attempt becomes "0",
// oncemq-deliver-at becomes `now_ms` (due at once) and oncemq-error is dropped.
std::vector<HeaderField> ReplayHeaders(const std::vector<HeaderField>& original, int64_t now_ms);

// The fate of one replayed copy.
struct ReplayOutcome {
  std::string id;             // the dead letter's PARTITION:OFFSET
  bool acknowledged = false;  // the broker appended the copy durably (acks=all)
  int32_t partition = -1;     // where the copy landed, when acknowledged
  int64_t offset = -1;
  std::string error;  // why not, when not acknowledged
};

// Sends copies of dead letters to one topic with an idempotent producer (enable.idempotence, acks=all).
// Thread safety: one thread uses a replayer.
class DeadLetterReplayer {
 public:
  // Connects and notes where each partition of `topic` ends now. kNotFound when the topic does not exist;
  // kUnavailable when no broker answers.
  static Result<std::unique_ptr<DeadLetterReplayer>> Open(const AdminConnectOptions& connect,
                                                          std::string topic);
  ~DeadLetterReplayer();
  DeadLetterReplayer(const DeadLetterReplayer&) = delete;
  DeadLetterReplayer& operator=(const DeadLetterReplayer&) = delete;

  const std::string& topic() const { return topic_; }

  // Sends one copy per letter (same key, payload, ReplayHeaders(…, now_ms)) and waits for every delivery
  // report, at most the connect timeout plus a few seconds; a copy still unreported then is purged and
  // reported as not acknowledged. Then it reads the acknowledged offsets back: a topic with a message-id
  // window (dedup.window.ms) acknowledges a copy whose oncemq-msg-id it holds already without appending
  // it (answering with the original's offset, or a gap), so a copy not found at its offset — or at an
  // offset another copy of this call got — is reported as not acknowledged too. Returns one outcome per
  // letter, in order. Call once.
  std::vector<ReplayOutcome> Send(const std::vector<DeadLetter>& letters, int64_t now_ms);

  // What librdkafka's callbacks write (from rd_kafka_poll, and its own threads for the log); public for
  // those callbacks only.
  struct Reports {
    FirstClientComplaint complaint;
    int pending = 0;  // copies enqueued whose delivery report has not come yet
  };

 private:
  DeadLetterReplayer(AdminConnectOptions connect, std::string topic, std::map<int32_t, OffsetRange> ends)
      : connect_(std::move(connect)), topic_(std::move(topic)), ends_(std::move(ends)) {}
  // Enqueues one copy whose delivery report fills *outcome; when librdkafka refuses it, outcome->error
  // says why at once.
  void Enqueue(const DeadLetter& letter, int64_t now_ms, ReplayOutcome* outcome);
  void AwaitReports();
  // Marks acknowledged copies that are not in the log as not acknowledged.
  void CheckAppended(std::vector<ReplayOutcome>& outcomes);

  AdminConnectOptions connect_;
  std::string topic_;
  std::map<int32_t, OffsetRange> ends_;  // each partition's log end when opened
  Reports reports_;                      // outlives rk_: librdkafka may log while being destroyed
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace oncemq::cli
