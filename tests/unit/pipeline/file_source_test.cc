#include "chorus/pipeline/file_source.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace chorus {
namespace {

class RecordingListener : public PartitionListener {
 public:
  std::vector<SourcePosition> OnAssigned(const std::vector<TopicPartition>& tps) override {
    assigned.push_back(tps);
    return answer;
  }
  void OnRevoked(const std::vector<TopicPartition>&) override {}

  std::vector<std::vector<TopicPartition>> assigned;
  std::vector<SourcePosition> answer;
};

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

std::string AsString(std::span<const uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Writes `values` in the delimited format; returns each record's offset.
std::vector<int64_t> WriteRecords(const std::string& path, const std::vector<std::string>& values) {
  std::string bytes;
  std::vector<int64_t> offsets;
  for (const std::string& v : values) {
    offsets.push_back(static_cast<int64_t>(bytes.size()));
    AppendDelimited(bytes, v);
  }
  WriteFile(path, bytes);
  return offsets;
}

std::vector<std::string> SampleValues() {
  std::vector<std::string> values;
  for (int i = 0; i < 10; ++i) values.push_back("record-" + std::to_string(i));
  values.push_back("");                     // an empty record is still a record
  values.push_back(std::string(300, 'x'));  // a two-byte length prefix
  return values;
}

std::unique_ptr<FileSource> OpenOrDie(const std::string& path) {
  auto r = FileSource::Open(path);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r.value()) : nullptr;
}

TEST(FileSource, AppendDelimitedWritesAVarintLength) {
  std::string out;
  AppendDelimited(out, std::string(300, 'a'));
  ASSERT_EQ(out.size(), 302u);
  EXPECT_EQ(static_cast<uint8_t>(out[0]), 0xac);
  EXPECT_EQ(static_cast<uint8_t>(out[1]), 0x02);
  AppendDelimited(out, "");
  EXPECT_EQ(out.back(), '\0');
}

TEST(FileSource, ReadsEveryRecordInBatches) {
  testing::TempDir dir;
  const std::string path = dir.Sub("events.bin");
  const std::vector<std::string> values = SampleValues();
  const std::vector<int64_t> offsets = WriteRecords(path, values);
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  source->SetListener(&listener);

  std::vector<SourceRecord> batch;
  size_t next = 0;
  while (!source->Exhausted()) {
    ASSERT_TRUE(source->Poll(batch, 5, std::chrono::milliseconds(0)).ok());
    ASSERT_LE(batch.size(), 5u);
    for (const SourceRecord& r : batch) {
      ASSERT_LT(next, values.size());
      EXPECT_EQ(r.topic, "file:events.bin");
      EXPECT_EQ(r.partition, 0);
      EXPECT_EQ(r.offset, offsets[next]);
      EXPECT_EQ(AsString(r.value), values[next]);
      EXPECT_TRUE(r.key.empty());
      EXPECT_FALSE(r.timestamp_ms.has_value());
      ++next;
    }
  }
  EXPECT_EQ(next, values.size());
  ASSERT_EQ(listener.assigned.size(), 1u);
  EXPECT_EQ(listener.assigned[0], (std::vector<TopicPartition>{{"file:events.bin", 0}}));
  // Polling an exhausted source is harmless.
  ASSERT_TRUE(source->Poll(batch, 5, std::chrono::milliseconds(0)).ok());
  EXPECT_TRUE(batch.empty());
}

TEST(FileSource, ResumesFromTheOffsetTheListenerReturns) {
  testing::TempDir dir;
  const std::string path = dir.Sub("resume.bin");
  const std::vector<std::string> values = SampleValues();
  const std::vector<int64_t> offsets = WriteRecords(path, values);
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  listener.answer = {{{"other-topic", 0}, 1},  // not ours: ignored
                     {{"file:resume.bin", 0}, offsets[7]}};
  source->SetListener(&listener);
  std::vector<SourceRecord> batch;
  ASSERT_TRUE(source->Poll(batch, 100, std::chrono::milliseconds(0)).ok());
  ASSERT_EQ(batch.size(), values.size() - 7);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(batch[i].offset, offsets[7 + i]);
    EXPECT_EQ(AsString(batch[i].value), values[7 + i]);
  }
  EXPECT_TRUE(source->Exhausted());
}

TEST(FileSource, ResumingAtTheEndReadsNothing) {
  testing::TempDir dir;
  const std::string path = dir.Sub("end.bin");
  WriteRecords(path, {"a", "b"});
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  listener.answer = {{{"file:end.bin", 0}, 4}};
  source->SetListener(&listener);
  std::vector<SourceRecord> batch;
  ASSERT_TRUE(source->Poll(batch, 10, std::chrono::milliseconds(0)).ok());
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(source->Exhausted());
}

TEST(FileSource, TruncatedRecordIsAnErrorAfterTheGoodRecords) {
  testing::TempDir dir;
  const std::string path = dir.Sub("cut.bin");
  std::string bytes;
  AppendDelimited(bytes, "good-0");
  AppendDelimited(bytes, "good-1");
  const size_t bad_at = bytes.size();
  AppendDelimited(bytes, "this record is cut short");
  bytes.resize(bytes.size() - 5);
  WriteFile(path, bytes);

  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  source->SetListener(&listener);
  std::vector<SourceRecord> batch;
  ASSERT_TRUE(source->Poll(batch, 10, std::chrono::milliseconds(0)).ok());
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(AsString(batch[1].value), "good-1");
  Status s = source->Poll(batch, 10, std::chrono::milliseconds(0));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(batch.empty());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("byte " + std::to_string(bad_at)), std::string::npos) << s.message();
  EXPECT_FALSE(source->Exhausted());
  // The error is sticky: the file does not heal.
  EXPECT_FALSE(source->Poll(batch, 10, std::chrono::milliseconds(0)).ok());
}

TEST(FileSource, TruncatedLengthPrefixAndAbsurdLengthAreErrors) {
  testing::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"prefix.bin", std::string("\x01z\x80", 3)},           // varint cut short
      {"huge.bin", std::string("\xff\xff\xff\xff\x0f", 5)},  // 4 GiB record
      {"long.bin", std::string(11, '\xff') + "\x01"},        // over-long varint
  };
  for (const auto& [name, bytes] : cases) {
    const std::string path = dir.Sub(name);
    WriteFile(path, bytes);
    auto source = OpenOrDie(path);
    ASSERT_NE(source, nullptr);
    RecordingListener listener;
    source->SetListener(&listener);
    std::vector<SourceRecord> batch;
    Status s = source->Poll(batch, 10, std::chrono::milliseconds(0));
    if (s.ok()) s = source->Poll(batch, 10, std::chrono::milliseconds(0));
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  }
}

TEST(FileSource, EmptyFileIsExhaustedAtOnce) {
  testing::TempDir dir;
  const std::string path = dir.Sub("empty.bin");
  WriteFile(path, "");
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  source->SetListener(&listener);
  std::vector<SourceRecord> batch;
  ASSERT_TRUE(source->Poll(batch, 10, std::chrono::milliseconds(0)).ok());
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(source->Exhausted());
}

TEST(FileSource, LargeRecordsRoundTrip) {
  testing::TempDir dir;
  const std::string path = dir.Sub("large.bin");
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  WriteRecords(path, {big, "tail"});
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  source->SetListener(&listener);
  std::vector<SourceRecord> batch;
  ASSERT_TRUE(source->Poll(batch, 10, std::chrono::milliseconds(0)).ok());
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_TRUE(AsString(batch[0].value) == big);
  EXPECT_EQ(AsString(batch[1].value), "tail");
}

TEST(FileSource, MissingFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  const std::string path = dir.Sub("nope.bin");
  auto r = FileSource::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos);
}

TEST(FileSource, StandardInputCannotResume) {
  auto source = OpenOrDie("-");
  ASSERT_NE(source, nullptr);
  RecordingListener listener;
  listener.answer = {{{"file:stdin", 0}, 42}};
  source->SetListener(&listener);
  std::vector<SourceRecord> batch;
  // Refused before anything is read from stdin.
  Status s = source->Poll(batch, 10, std::chrono::milliseconds(0));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("standard input"), std::string::npos) << s.message();
  ASSERT_EQ(listener.assigned.size(), 1u);
  EXPECT_EQ(listener.assigned[0][0].topic, "file:stdin");
}

}  // namespace
}  // namespace chorus
