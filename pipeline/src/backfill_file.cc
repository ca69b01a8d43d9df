// The backfill's file: FILE.tmp while it is written, FILE once complete.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "chorus/pipeline/backfill.h"

namespace chorus {

Result<std::unique_ptr<BackfillFile>> BackfillFile::Create(const std::string& path) {
  std::error_code ec;
  if (path.empty()) return Status::Error("--backfill: expected a file name");
  if (std::filesystem::is_directory(path, ec)) {
    return Status::Error("--backfill " + path + ": is a directory");
  }
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return Status::Error("--backfill " + path + ": cannot create " + tmp + ": " +
                         std::strerror(errno));
  }
  return std::unique_ptr<BackfillFile>(new BackfillFile(path, f));
}

BackfillFile::~BackfillFile() {
  if (committed_) return;
  if (file_ != nullptr) std::fclose(file_);
  std::remove((path_ + ".tmp").c_str());
}

Status BackfillFile::Commit() {
  const std::string tmp = path_ + ".tmp";
  auto failed = [&](const char* what) {
    return Status::Error("--backfill " + path_ + ": cannot " + what + " " + tmp + ": " +
                         std::strerror(errno));
  };
  if (std::fflush(file_) != 0) return failed("write");
  if (::fsync(fileno(file_)) != 0) return failed("sync");
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) return failed("close");
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return failed("rename");
  committed_ = true;
  return Status::Ok();
}

}  // namespace chorus
