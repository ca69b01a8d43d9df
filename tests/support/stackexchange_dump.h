// Hand-made Stack Exchange data dumps for tests: each table is written as the
// real dump writes it (an XML declaration, a root element named after the
// file, one <row .../> per line), from the rows' attribute text.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace chorus::testing {

// Writes dir/file ("Posts.xml" gets a <posts> root) holding `rows`, each the
// attributes of one <row>, e.g. R"(Id="1" CreationDate="2018-03-12T00:00:00.000")".
void WriteTable(const std::filesystem::path& dir, const std::string& file,
                const std::vector<std::string>& rows);

struct DumpTables {
  std::vector<std::string> users, posts, comments, votes;
};

// Creates `dir` and writes Users.xml, Posts.xml, Comments.xml and Votes.xml.
void WriteDump(const std::filesystem::path& dir, const DumpTables& tables);

}  // namespace chorus::testing
