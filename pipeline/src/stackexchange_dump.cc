// The effectful half of the Stack Exchange import: the dump directory and its
// XML tables (pugixml), read into plain rows. Convert (stackexchange_import.cc)
// decides what the rows mean.
#include <cctype>
#include <filesystem>
#include <functional>
#include <pugixml.hpp>
#include <system_error>

#include "chorus/pipeline/stackexchange_import.h"

namespace chorus::stackexchange {
namespace {

namespace fs = std::filesystem;

// "Posts.xml" -> "posts", the table's root element.
std::string RootName(std::string_view file) {
  std::string root(file.substr(0, file.find('.')));
  for (char& c : root) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return root;
}

// Calls `on_row` for each <row> of dir/file. pugixml keeps the parsed tree
// only for the duration of the call.
Status ForEachRow(const fs::path& dir, std::string_view file,
                  const std::function<void(const pugi::xml_node&)>& on_row) {
  const fs::path path = dir / file;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::Error(path.string() + ": no such file");
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_file(path.c_str(), pugi::parse_default);
  if (!parsed) {
    return Status::Error(path.string() + ": not well-formed XML at byte " +
                         std::to_string(parsed.offset) + ": " + parsed.description());
  }
  const std::string root = RootName(file);
  pugi::xml_node table = doc.document_element();
  if (root != table.name()) {
    return Status::Error(path.string() + ": expected a <" + root + "> root element, found <" +
                         table.name() + ">");
  }
  for (pugi::xml_node row : table.children("row")) on_row(row);
  return Status::Ok();
}

std::string Attr(const pugi::xml_node& row, const char* name) {
  return row.attribute(name).value();  // "" when absent
}

}  // namespace

Status CheckDumpDir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::Error(dir + ": no such directory");
  for (std::string_view file : kDumpFiles) {
    const fs::path path = fs::path(dir) / file;
    if (!fs::is_regular_file(path, ec)) {
      return Status::Error(path.string() + ": no such file (not a Stack Exchange dump?)");
    }
  }
  return Status::Ok();
}

Result<Dump> ReadDump(const std::string& dir) {
  Dump d;
  const fs::path root(dir);
  Status s = ForEachRow(root, "Users.xml", [&](const pugi::xml_node& r) {
    d.users.push_back({Attr(r, "Id"), Attr(r, "CreationDate")});
  });
  if (!s.ok()) return s;
  s = ForEachRow(root, "Posts.xml", [&](const pugi::xml_node& r) {
    d.posts.push_back({Attr(r, "Id"), Attr(r, "PostTypeId"), Attr(r, "ParentId"),
                       Attr(r, "AcceptedAnswerId"), Attr(r, "OwnerUserId"), Attr(r, "CreationDate"),
                       Attr(r, "Score"), Attr(r, "Tags")});
  });
  if (!s.ok()) return s;
  s = ForEachRow(root, "Comments.xml", [&](const pugi::xml_node& r) {
    d.comments.push_back({Attr(r, "Id"), Attr(r, "PostId"), Attr(r, "UserId"),
                          Attr(r, "CreationDate"), Attr(r, "Score")});
  });
  if (!s.ok()) return s;
  s = ForEachRow(root, "Votes.xml", [&](const pugi::xml_node& r) {
    d.votes.push_back(
        {Attr(r, "Id"), Attr(r, "PostId"), Attr(r, "VoteTypeId"), Attr(r, "CreationDate")});
  });
  if (!s.ok()) return s;
  return d;
}

std::optional<std::string> SiteFromDir(const std::string& dir) {
  // lexically_normal turns "a/b/" into "a/b/" with an empty filename; drop
  // trailing separators first so "dumps/stackexchange-physics/" works.
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  const std::string name = p.filename().string();
  constexpr std::string_view kPrefix = "stackexchange-";
  constexpr std::string_view kSuffix = ".stackexchange.com";
  std::string site;
  if (name.starts_with(kPrefix)) {
    site = name.substr(kPrefix.size());
  } else if (name.ends_with(kSuffix)) {
    site = name.substr(0, name.size() - kSuffix.size());
  }
  if (site.empty()) return std::nullopt;
  return site;
}

}  // namespace chorus::stackexchange
