#include "chorus/pipeline/file_source.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace chorus {
namespace {

// Larger than any sane event; a bigger length means the file is not in the
// delimited format (or we are not at a record boundary), and trusting it
// would allocate whatever the bytes say.
constexpr uint64_t kMaxRecordBytes = 64ull << 20;
constexpr int kMaxVarintBytes = 10;
// stdio's default buffer is a few KiB; records are small and many.
constexpr size_t kReadBufferBytes = 1 << 20;

std::string Where(const std::string& path, int64_t position) {
  return path + " at byte " + std::to_string(position);
}

}  // namespace

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path) {
  std::unique_ptr<FileSource> source(new FileSource());
  source->path_ = path;
  if (path == "-") {
    source->file_ = stdin;
    source->topic_ = "file:stdin";
  } else {
    source->file_ = std::fopen(path.c_str(), "rb");
    if (source->file_ == nullptr) {
      return Status::Error("cannot open " + path + ": " + std::strerror(errno));
    }
    source->topic_ = "file:" + std::filesystem::path(path).filename().string();
  }
  std::setvbuf(source->file_, nullptr, _IOFBF, kReadBufferBytes);
  return source;
}

FileSource::~FileSource() {
  if (file_ != nullptr && file_ != stdin) std::fclose(file_);
}

Status FileSource::Start() {
  started_ = true;
  if (listener_ == nullptr) return Status::Ok();
  int64_t start = 0;
  for (const SourcePosition& p : listener_->OnAssigned({{topic_, 0}})) {
    if (p.tp.topic == topic_ && p.tp.partition == 0) start = p.next_offset;
  }
  if (start == 0) return Status::Ok();
  if (start < 0) return Status::Error("negative start offset for " + Where(path_, start));
  if (file_ == stdin) {
    return Status::Error("cannot resume standard input at byte " + std::to_string(start) +
                         ": it is not seekable; read the file by name instead");
  }
  if (fseeko(file_, static_cast<off_t>(start), SEEK_SET) != 0) {
    return Status::Error("cannot seek " + Where(path_, start) + ": " + std::strerror(errno));
  }
  position_ = start;
  return Status::Ok();
}

Status FileSource::ReadRecord(std::string& buffer, bool& eof) {
  eof = false;
  const int64_t record_start = position_;
  uint64_t length = 0;
  for (int i = 0;; ++i) {
    int c = std::getc(file_);
    if (c == EOF) {
      if (std::ferror(file_)) {
        return Status::Error("cannot read " + Where(path_, position_) + ": " +
                             std::strerror(errno));
      }
      if (i == 0) {  // a clean end between records
        eof = true;
        return Status::Ok();
      }
      return Status::Error("truncated length prefix in " + Where(path_, record_start));
    }
    ++position_;
    if (i == kMaxVarintBytes) {
      return Status::Error("bad length prefix in " + Where(path_, record_start));
    }
    length |= static_cast<uint64_t>(c & 0x7f) << (7 * i);
    if ((c & 0x80) == 0) break;
  }
  if (length > kMaxRecordBytes) {
    return Status::Error("record length " + std::to_string(length) + " over the 64 MiB limit in " +
                         Where(path_, record_start));
  }
  buffer.resize(length);
  size_t got = length == 0 ? 0 : std::fread(buffer.data(), 1, length, file_);
  position_ += static_cast<int64_t>(got);
  if (got != length) {
    if (std::ferror(file_)) {
      return Status::Error("cannot read " + Where(path_, position_) + ": " + std::strerror(errno));
    }
    return Status::Error("truncated record in " + Where(path_, record_start) + ": length " +
                         std::to_string(length) + ", " + std::to_string(got) + " bytes left");
  }
  return Status::Ok();
}

Status FileSource::Poll(std::vector<SourceRecord>& out, size_t max, std::chrono::milliseconds) {
  out.clear();
  if (!error_.ok()) return error_;
  if (!started_) {
    Status s = Start();
    if (!s.ok()) {
      error_ = s;
      return s;
    }
  }
  // Offsets are kept aside and the records built at the end: growing
  // buffers_ may move short strings, which would dangle earlier views.
  offsets_.clear();
  size_t n = 0;
  while (n < max && !exhausted_) {
    if (buffers_.size() <= n) buffers_.emplace_back();
    int64_t offset = position_;
    bool eof = false;
    Status s = ReadRecord(buffers_[n], eof);
    if (!s.ok()) {
      // Complete records before the damage are handed out first; the error
      // is sticky and reported by this or the next Poll.
      error_ = s;
      break;
    }
    if (eof) {
      exhausted_ = true;
      break;
    }
    offsets_.push_back(offset);
    ++n;
  }
  for (size_t i = 0; i < n; ++i) {
    SourceRecord r;
    r.topic = topic_;
    r.partition = 0;
    r.offset = offsets_[i];
    r.value = {reinterpret_cast<const uint8_t*>(buffers_[i].data()), buffers_[i].size()};
    out.push_back(r);
  }
  return n == 0 ? error_ : Status::Ok();
}

void AppendDelimited(std::string& out, std::string_view value) {
  uint64_t v = value.size();
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  out.append(value);
}

}  // namespace chorus
