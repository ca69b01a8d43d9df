#include "support/stackexchange_dump.h"

#include <cctype>
#include <fstream>
#include <stdexcept>

namespace chorus::testing {

void WriteTable(const std::filesystem::path& dir, const std::string& file,
                const std::vector<std::string>& rows) {
  std::string root = file.substr(0, file.find('.'));
  for (char& c : root) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::ofstream out(dir / file, std::ios::binary);
  // The real dumps start with a UTF-8 byte order mark.
  out << "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<" << root << ">\n";
  for (const std::string& row : rows) out << "  <row " << row << " />\n";
  out << "</" << root << ">\n";
  if (!out) throw std::runtime_error("cannot write " + (dir / file).string());
}

void WriteDump(const std::filesystem::path& dir, const DumpTables& tables) {
  std::filesystem::create_directories(dir);
  WriteTable(dir, "Users.xml", tables.users);
  WriteTable(dir, "Posts.xml", tables.posts);
  WriteTable(dir, "Comments.xml", tables.comments);
  WriteTable(dir, "Votes.xml", tables.votes);
}

}  // namespace chorus::testing
