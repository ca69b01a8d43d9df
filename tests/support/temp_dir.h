// A directory under $TMPDIR removed with everything in it when the owner goes.
#pragma once

#include <filesystem>
#include <string>

namespace chorus::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The whole content of the file at `path`; empty if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace chorus::testing
