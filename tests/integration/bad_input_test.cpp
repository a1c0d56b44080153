// Bad input against the real broker: each case gets the exact Kafka answer (or a closed connection
// where the protocol says so), the broker keeps serving other connections, and nothing acknowledged
// before is lost. Wire layouts: kafka-protocol.md §1, §2.3, §4.1, §4.2, §4.4, §5.3, §8.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/batch_maker.h"
#include "support/broker_process.h"
#include "support/kafka_wire.h"
#include "support/raw_client.h"

namespace oncemq::testing {
namespace {

constexpr int kMaxMessageBytes = 10000;
constexpr int kMaxFrameBytes = 1 << 20;
constexpr int16_t kNoResponse = -999;  // sentinel error code: the call itself failed
const milliseconds kCloseTimeout{10000};

// Batch header offsets (kafka-protocol.md §5.1).
constexpr size_t kLastOffsetDeltaAt = 23;
constexpr size_t kRecordsCountAt = 57;
constexpr size_t kBatchLengthAt = 8;

class BadInputTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--max-message-bytes", std::to_string(kMaxMessageBytes),
                                     "--max-frame-bytes", std::to_string(kMaxFrameBytes)};
    args.insert(args.end(), extra.begin(), extra.end());
    broker_ = std::make_unique<BrokerProcess>(args);
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
  }
  void SetUp() override { StartBroker(); }

  void TearDown() override {
    // After any bad input the broker still shuts down cleanly (an ASan/LSan report would make the
    // exit status non-zero).
    if (broker_ && broker_->Running()) {
      EXPECT_EQ(broker_->Terminate(), 0) << "SIGTERM must flush and exit 0";
    }
    if (broker_ && HasFailure()) {
      std::fprintf(stderr, "--- broker log tail (%s) ---\n%s\n", broker_->log_path().c_str(),
                   broker_->LogTail().c_str());
    }
  }

  std::unique_ptr<RawConnection> Connect() {
    std::string error;
    auto conn = RawConnection::Connect(broker_->host(), broker_->port(), &error);
    EXPECT_NE(conn, nullptr) << error;
    return conn;
  }

  // The broker process is alive and a fresh, well-behaved connection is served.
  void ExpectBrokerServes() {
    EXPECT_TRUE(broker_->Running()) << "broker process died\n" << broker_->LogTail();
    EXPECT_EQ(CheckBrokerServes(broker_->host(), broker_->port()), "");
  }

  // Creates `topic` through Metadata auto-create and checks it has at least one partition.
  void CreateTopic(RawConnection& conn, const std::string& topic) {
    Bytes body = MetadataV4Body(std::vector<std::string>{topic}, true);
    CallResult r = Call(conn, api::kMetadata, 4, body);
    ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    MetadataResponse md;
    ASSERT_TRUE(ParseMetadataV4(r.body, &md)) << "Metadata v4 response does not parse";
    const auto* t = md.Find(topic);
    ASSERT_NE(t, nullptr) << "auto-created topic missing from Metadata";
    ASSERT_EQ(t->error_code, kerr::kNone);
    ASSERT_FALSE(t->partitions.empty());
  }

  // Produces one partition's records and returns its response (error kNoResponse if none came).
  ProducePartitionResponse Produce(RawConnection& conn, const std::string& topic, int32_t partition,
                                   std::optional<Bytes> records, int16_t acks = -1) {
    Bytes body = ProduceV7Body(acks, 10000, {{topic, partition, std::move(records)}});
    CallResult r = Call(conn, api::kProduce, 7, body);
    ProducePartitionResponse none;
    none.error_code = kNoResponse;
    if (r.outcome != ReadOutcome::kFrame) {
      ADD_FAILURE() << "Produce v7: " << r.Describe();
      return none;
    }
    std::vector<ProducePartitionResponse> parts;
    if (!ParseProduceV7(r.body, &parts)) {
      ADD_FAILURE() << "Produce v7 response does not parse (" << r.body.size() << " bytes)";
      return none;
    }
    if (parts.size() != 1 || parts[0].topic != topic || parts[0].partition != partition) {
      ADD_FAILURE() << "Produce v7 response must have exactly the one topic/partition sent; got "
                    << parts.size() << " entries";
      return none;
    }
    return parts[0];
  }

  FetchPartitionResponse Fetch(RawConnection& conn, const std::string& topic, int32_t partition,
                               int64_t offset) {
    Bytes body = FetchV11Body(topic, partition, offset);
    CallResult r = Call(conn, api::kFetch, 11, body);
    FetchPartitionResponse none;
    none.error_code = kNoResponse;
    if (r.outcome != ReadOutcome::kFrame) {
      ADD_FAILURE() << "Fetch v11: " << r.Describe();
      return none;
    }
    FetchResponse fr;
    if (!ParseFetchV11(r.body, &fr)) {
      ADD_FAILURE() << "Fetch v11 response does not parse (" << r.body.size() << " bytes)";
      return none;
    }
    if (fr.partitions.size() != 1) {
      ADD_FAILURE() << "Fetch v11 response has " << fr.partitions.size() << " partitions, want 1";
      return none;
    }
    return fr.partitions[0];
  }

  // An unknown API or version: the connection is closed, or an answer with our correlation id comes.
  void ExpectClosedOrAnswered(RawConnection& conn, int16_t api_key, int16_t version, ByteView body) {
    CallResult r = Call(conn, api_key, version, body, milliseconds(10000), version >= 3);
    EXPECT_TRUE(!r.sent || r.outcome == ReadOutcome::kClosed || r.outcome == ReadOutcome::kFrame)
        << "api " << api_key << " v" << version << ": want a closed connection or an answer with the "
        << "request's correlation id; got " << r.Describe();
  }

  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(BadInputTest, FrameTooShortForHeaderClosesOnlyThatConnection) {
  auto good = Connect();
  ASSERT_NE(good, nullptr);
  CallResult before = Call(*good, api::kApiVersions, 0, {});
  ASSERT_EQ(before.outcome, ReadOutcome::kFrame) << before.Describe();

  auto bad = Connect();
  ASSERT_NE(bad, nullptr);
  const uint8_t garbage[] = {0xde, 0xad, 0xbe};
  ASSERT_TRUE(bad->SendFrame(garbage));
  EXPECT_TRUE(bad->WaitClosed(kCloseTimeout)) << "a 3-byte frame cannot hold a request header";

  CallResult after = Call(*good, api::kApiVersions, 0, {});
  EXPECT_EQ(after.outcome, ReadOutcome::kFrame) << "the other connection was disturbed: " << after.Describe();
  ExpectBrokerServes();
}

TEST_F(BadInputTest, ClientIdLongerThanFrameClosesConnection) {
  auto bad = Connect();
  ASSERT_NE(bad, nullptr);
  // Header v1 of a Metadata v4 request whose client_id claims 30000 bytes in an 12-byte frame.
  const uint8_t frame[] = {0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, 0x75, 0x30, 'a', 'b'};
  ASSERT_TRUE(bad->SendFrame(frame));
  EXPECT_TRUE(bad->WaitClosed(kCloseTimeout));
  ExpectBrokerServes();
}

TEST_F(BadInputTest, NegativeFrameSizeClosesConnection) {
  auto bad = Connect();
  ASSERT_NE(bad, nullptr);
  const uint8_t bytes[] = {0xff, 0xff, 0xff, 0xf0, 0x00, 0x12, 0x00, 0x00};
  ASSERT_TRUE(bad->SendRaw(bytes));
  EXPECT_TRUE(bad->WaitClosed(kCloseTimeout));
  ExpectBrokerServes();
}

TEST_F(BadInputTest, OversizeFrameIsRefusedBeforeItsBodyArrives) {
  // Only the size prefix is sent: a broker that waited to buffer the body would never close.
  for (uint32_t size : {static_cast<uint32_t>(kMaxFrameBytes) + 1, 0x7fffffffu}) {
    auto bad = Connect();
    ASSERT_NE(bad, nullptr);
    uint8_t prefix[4];
    StoreBe32(prefix, size);
    ASSERT_TRUE(bad->SendRaw(prefix));
    EXPECT_TRUE(bad->WaitClosed(kCloseTimeout))
        << "frame size " << size << " > --max-frame-bytes " << kMaxFrameBytes << " was not refused";
  }
  ExpectBrokerServes();
}

TEST_F(BadInputTest, CrcMismatchIsCorruptMessage) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "crc"));
  Bytes batch = MakeSimpleBatch(3);
  batch[batch.size() - 2] ^= 0x01;  // inside the last record's value; CRC left as it was
  EXPECT_EQ(Produce(*conn, "crc", 0, batch).error_code, kerr::kCorruptMessage);

  Bytes bad_crc = MakeSimpleBatch(3);
  bad_crc[17] ^= 0x80;  // the CRC field itself
  EXPECT_EQ(Produce(*conn, "crc", 0, bad_crc).error_code, kerr::kCorruptMessage);

  EXPECT_EQ(Fetch(*conn, "crc", 0, 0).high_watermark, 0) << "a corrupt batch was appended";
  ExpectBrokerServes();
}

TEST_F(BadInputTest, LastOffsetDeltaNotCountMinusOneIsInvalidRecord) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "count"));
  Bytes batch = MakeSimpleBatch(3);
  PokeInt32(batch, kLastOffsetDeltaAt, 3);  // records intact, count 3, delta says 4 records
  RecomputeCrc(batch);
  EXPECT_EQ(Produce(*conn, "count", 0, batch).error_code, kerr::kInvalidRecord);

  Bytes more = MakeSimpleBatch(3);
  PokeInt32(more, kRecordsCountAt, 4);  // count says 4, delta says 3 records, 3 present
  RecomputeCrc(more);
  EXPECT_EQ(Produce(*conn, "count", 0, more).error_code, kerr::kInvalidRecord);

  EXPECT_EQ(Fetch(*conn, "count", 0, 0).high_watermark, 0) << "an invalid batch was appended";
  ExpectBrokerServes();
}

TEST_F(BadInputTest, TwoBatchesInOnePartitionAreInvalidRecord) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "two"));
  Bytes records = MakeSimpleBatch(2);
  Bytes second = MakeSimpleBatch(2);
  records.insert(records.end(), second.begin(), second.end());
  EXPECT_EQ(Produce(*conn, "two", 0, records).error_code, kerr::kInvalidRecord);
  ExpectBrokerServes();
}

TEST_F(BadInputTest, BatchLengthBeyondRecordsIsRejected) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "len"));
  Bytes batch = MakeSimpleBatch(2);
  PokeInt32(batch, kBatchLengthAt, static_cast<int32_t>(batch.size()));  // 12 bytes too long
  int16_t err = Produce(*conn, "len", 0, batch).error_code;
  EXPECT_TRUE(err == kerr::kCorruptMessage || err == kerr::kInvalidRecord)
      << "batchLength past the end of records: want CORRUPT_MESSAGE (2) or INVALID_RECORD (87), got " << err;
  EXPECT_EQ(Fetch(*conn, "len", 0, 0).high_watermark, 0);
  ExpectBrokerServes();
}

TEST_F(BadInputTest, BatchOverMaxMessageBytesIsMessageTooLarge) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "big"));
  Bytes fits = MakeBatch({{"k", std::string(kMaxMessageBytes / 2, 'x'), {}}});
  ASSERT_LT(fits.size(), static_cast<size_t>(kMaxMessageBytes));
  EXPECT_EQ(Produce(*conn, "big", 0, fits).error_code, kerr::kNone);

  Bytes big = MakeBatch({{"k", std::string(2 * kMaxMessageBytes, 'x'), {}}});
  ASSERT_LT(big.size(), static_cast<size_t>(kMaxFrameBytes));
  EXPECT_EQ(Produce(*conn, "big", 0, big).error_code, kerr::kMessageTooLarge);
  EXPECT_EQ(Fetch(*conn, "big", 0, 0).high_watermark, 1) << "only the batch that fits is in the log";
  ExpectBrokerServes();
}

TEST_F(BadInputTest, UnknownPartitionIsUnknownTopicOrPartition) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "onepart"));
  EXPECT_EQ(Produce(*conn, "onepart", 7, MakeSimpleBatch(1)).error_code, kerr::kUnknownTopicOrPartition);
  EXPECT_EQ(Produce(*conn, "onepart", -1, MakeSimpleBatch(1)).error_code, kerr::kUnknownTopicOrPartition);
  EXPECT_EQ(Fetch(*conn, "onepart", 7, 0).error_code, kerr::kUnknownTopicOrPartition);
  ExpectBrokerServes();
}

TEST_F(BadInputTest, AcksFiveIsInvalidRequiredAcks) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "acks"));
  EXPECT_EQ(Produce(*conn, "acks", 0, MakeSimpleBatch(2), /*acks=*/5).error_code, kerr::kInvalidRequiredAcks);
  EXPECT_EQ(Fetch(*conn, "acks", 0, 0).high_watermark, 0) << "a produce with acks=5 was appended";
  ExpectBrokerServes();
}

TEST_F(BadInputTest, UnsupportedApiKeyClosesOrAnswers) {
  for (int16_t key : {int16_t{9999}, int16_t{-7}, int16_t{24} /* AddPartitionsToTxn: not advertised */}) {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    ExpectClosedOrAnswered(*conn, key, 0, {});
  }
  ExpectBrokerServes();
}

TEST_F(BadInputTest, UnsupportedVersionOfKnownApiClosesOrAnswers) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  Bytes body = MetadataV4Body(std::nullopt, false);
  ExpectClosedOrAnswered(*conn, api::kMetadata, 99, body);
  auto conn2 = Connect();
  ASSERT_NE(conn2, nullptr);
  ExpectClosedOrAnswered(*conn2, api::kProduce, 99, {});
  ExpectBrokerServes();
}

TEST_F(BadInputTest, ApiVersionsV99IsUnsupportedVersionInV0FormatAndConnectionStaysOpen) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  // Sent as a flexible request, as a future client would; the broker must not parse the body.
  CallResult r = Call(*conn, api::kApiVersions, 99, ApiVersionsV3Body(), milliseconds(10000), true);
  ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << "ApiVersions must never drop the connection: " << r.Describe();
  ApiVersionsResponse av;
  ASSERT_TRUE(ParseApiVersionsV0(r.body, &av))
      << "want a v0 body (error INT16, ARRAY[key,min,max], no throttle) after response header v0; got "
      << r.body.size() << " bytes";
  EXPECT_EQ(av.error_code, kerr::kUnsupportedVersion);
  const ApiVersionRange* self = av.Find(api::kApiVersions);
  ASSERT_NE(self, nullptr) << "the error list must carry the ApiVersions range";
  EXPECT_EQ(self->min_version, 0);
  EXPECT_GE(self->max_version, 2);

  CallResult v0 = Call(*conn, api::kApiVersions, 0, {});
  ASSERT_EQ(v0.outcome, ReadOutcome::kFrame) << "connection not usable after the error: " << v0.Describe();
  ApiVersionsResponse ok;
  ASSERT_TRUE(ParseApiVersionsV0(v0.body, &ok));
  EXPECT_EQ(ok.error_code, kerr::kNone);
  EXPECT_NE(ok.Find(api::kProduce), nullptr);
  ExpectBrokerServes();
}

TEST_F(BadInputTest, ApiVersionsV3UsesResponseHeaderV0) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  CallResult r =
      Call(*conn, api::kApiVersions, 3, ApiVersionsV3Body("librdkafka", "2.0.2"), milliseconds(10000), true);
  ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
  ApiVersionsResponse av;
  ASSERT_TRUE(ParseApiVersionsV3(r.body, &av))
      << "v3 body must follow the correlation id directly (no header tag buffer)";
  EXPECT_EQ(av.error_code, kerr::kNone);
  const ApiVersionRange* produce = av.Find(api::kProduce);
  const ApiVersionRange* fetch = av.Find(api::kFetch);
  ASSERT_NE(produce, nullptr);
  ASSERT_NE(fetch, nullptr);
  EXPECT_TRUE(produce->min_version <= 3 && produce->max_version >= 3) << "Produce must include v3 (§3.1)";
  EXPECT_TRUE(fetch->min_version <= 4 && fetch->max_version >= 4) << "Fetch must include v4 (§3.1)";
}

TEST_F(BadInputTest, TruncatedProduceBodyDoesNotHurtTheBroker) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "trunc"));
  Bytes body = ProduceV7Body(-1, 10000, {{"trunc", 0, MakeSimpleBatch(3)}});
  body.resize(body.size() / 2);
  ExpectClosedOrAnswered(*conn, api::kProduce, 7, body);
  auto conn2 = Connect();
  ASSERT_NE(conn2, nullptr);
  EXPECT_EQ(Fetch(*conn2, "trunc", 0, 0).high_watermark, 0);
  ExpectBrokerServes();
}

class AutoCreateOffTest : public BadInputTest {
 protected:
  void SetUp() override { StartBroker({"--auto-create", "false"}); }
};

TEST_F(AutoCreateOffTest, UnknownTopicIsUnknownTopicOrPartitionForMetadataAndProduce) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  for (int round = 0; round < 2; ++round) {
    CallResult r = Call(*conn, api::kMetadata, 4, MetadataV4Body(std::vector<std::string>{"nosuch"}, true));
    ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    MetadataResponse md;
    ASSERT_TRUE(ParseMetadataV4(r.body, &md));
    const auto* t = md.Find("nosuch");
    ASSERT_NE(t, nullptr) << "Metadata must answer for the requested topic";
    EXPECT_EQ(t->error_code, kerr::kUnknownTopicOrPartition);
    EXPECT_TRUE(t->partitions.empty());
    EXPECT_FALSE(md.brokers.empty()) << "never return 0 brokers (§4.4)";

    EXPECT_EQ(Produce(*conn, "nosuch", 0, MakeSimpleBatch(1)).error_code, kerr::kUnknownTopicOrPartition);
  }
  EXPECT_EQ(Fetch(*conn, "nosuch", 0, 0).error_code, kerr::kUnknownTopicOrPartition);
  ExpectBrokerServes();
}

// One good batch first, then every bad input, then the good batch is fetched back intact and the
// next good batch gets the next offset (rejected batches consumed none).
TEST_F(BadInputTest, NothingAcknowledgedIsLostAfterBadInput) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, "keep"));
  std::vector<TestRecord> records = {
      {"a", "first", {{"h", "1"}}},
      {std::nullopt, std::nullopt, {}},
      {"c", "", {{"n", std::nullopt}, {"e", ""}}},
  };
  Bytes good = MakeBatch(records);
  ProducePartitionResponse first = Produce(*conn, "keep", 0, good);
  ASSERT_EQ(first.error_code, kerr::kNone);
  ASSERT_EQ(first.base_offset, 0);

  Bytes corrupt = good;
  corrupt[corrupt.size() - 3] ^= 0x40;
  EXPECT_EQ(Produce(*conn, "keep", 0, corrupt).error_code, kerr::kCorruptMessage);
  Bytes miscount = good;
  PokeInt32(miscount, kLastOffsetDeltaAt, 5);
  RecomputeCrc(miscount);
  EXPECT_EQ(Produce(*conn, "keep", 0, miscount).error_code, kerr::kInvalidRecord);
  EXPECT_EQ(
      Produce(*conn, "keep", 0, MakeBatch({{"k", std::string(3 * kMaxMessageBytes, 'y'), {}}})).error_code,
      kerr::kMessageTooLarge);
  EXPECT_EQ(Produce(*conn, "keep", 0, good, 5).error_code, kerr::kInvalidRequiredAcks);
  EXPECT_EQ(Produce(*conn, "keep", 3, good).error_code, kerr::kUnknownTopicOrPartition);
  {
    auto bad = Connect();
    ASSERT_NE(bad, nullptr);
    const uint8_t junk[] = {0x01};
    ASSERT_TRUE(bad->SendFrame(junk));
    EXPECT_TRUE(bad->WaitClosed(kCloseTimeout));
  }
  {
    auto bad = Connect();
    ASSERT_NE(bad, nullptr);
    uint8_t prefix[4];
    StoreBe32(prefix, static_cast<uint32_t>(kMaxFrameBytes) * 4);
    ASSERT_TRUE(bad->SendRaw(prefix));
    EXPECT_TRUE(bad->WaitClosed(kCloseTimeout));
  }

  FetchPartitionResponse f = Fetch(*conn, "keep", 0, 0);
  ASSERT_EQ(f.error_code, kerr::kNone);
  EXPECT_EQ(f.high_watermark, 3);
  EXPECT_EQ(f.last_stable_offset, 3);
  std::vector<DecodedBatch> batches;
  std::string error;
  ASSERT_TRUE(DecodeBatches(f.records, &batches, &error)) << error;
  ASSERT_EQ(batches.size(), 1u) << "exactly the one good batch must be in the log";
  const DecodedBatch& b = batches[0];
  EXPECT_EQ(b.base_offset, 0);
  EXPECT_TRUE(b.crc_ok);
  ASSERT_EQ(b.bytes.size(), good.size());
  // Stored verbatim: only baseOffset (0-7) and partitionLeaderEpoch (12-15) may be rewritten.
  EXPECT_TRUE(std::equal(good.begin() + 8, good.begin() + 12, b.bytes.begin() + 8));
  EXPECT_TRUE(std::equal(good.begin() + 16, good.end(), b.bytes.begin() + 16)) << "batch bytes changed";
  ASSERT_EQ(b.records.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(b.records[i].key, records[i].key) << "record " << i;
    EXPECT_EQ(b.records[i].value, records[i].value) << "record " << i;
    ASSERT_EQ(b.records[i].headers.size(), records[i].headers.size()) << "record " << i;
    for (size_t h = 0; h < records[i].headers.size(); ++h) {
      EXPECT_EQ(b.records[i].headers[h].key, records[i].headers[h].key);
      EXPECT_EQ(b.records[i].headers[h].value, records[i].headers[h].value);
    }
  }

  ProducePartitionResponse next = Produce(*conn, "keep", 0, MakeSimpleBatch(2));
  EXPECT_EQ(next.error_code, kerr::kNone);
  EXPECT_EQ(next.base_offset, 3) << "rejected batches must not consume offsets";
  ExpectBrokerServes();
}

}  // namespace
}  // namespace oncemq::testing
