// A file of length-delimited records (each a varint byte length, then the
// record value: protobuf's delimited format), read as one partition.
//
// The topic is "file:" + the file's name and the partition is 0; a record's
// offset is the byte position of its length prefix, so resuming from a
// stored offset is one seek. Use "-" for standard input (not resumable).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "chorus/pipeline/event_source.h"

namespace chorus {

class FileSource final : public EventSource {
 public:
  static Result<std::unique_ptr<FileSource>> Open(const std::string& path);
  ~FileSource() override;

  void SetListener(PartitionListener* listener) override { listener_ = listener; }
  Status Poll(std::vector<SourceRecord>& out, size_t max,
              std::chrono::milliseconds timeout) override;
  Status ReportDurable(const std::vector<SourcePosition>&) override { return Status::Ok(); }
  bool Exhausted() const override { return exhausted_; }

 private:
  FileSource() = default;
  // Asks the listener where to start and seeks there.
  Status Start();
  // Reads the record at position_ into `buffer`; `eof` is set at a clean end
  // of file (between records).
  Status ReadRecord(std::string& buffer, bool& eof);

  std::string path_;
  std::string topic_;
  std::FILE* file_ = nullptr;
  bool started_ = false;
  bool exhausted_ = false;
  int64_t position_ = 0;
  PartitionListener* listener_ = nullptr;
  std::vector<std::string> buffers_;  // record values of the current batch
  std::vector<int64_t> offsets_;      // their offsets
  Status error_;                      // sticky: a damaged file stays damaged
};

// Appends `value` to `out` in the length-delimited format.
void AppendDelimited(std::string& out, std::string_view value);

}  // namespace chorus
