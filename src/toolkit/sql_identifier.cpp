#include "toolkit/sql_identifier.h"

#include <set>
#include <string>

namespace oncemq::toolkit {

namespace {

constexpr size_t kMaxIdentifierLength = 63;  // PostgreSQL's; MySQL allows 64, SQLite more

bool IsIdentifierStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool IsIdentifierPart(char c) {
  return IsIdentifierStart(c) || (c >= '0' && c <= '9');
}

}  // namespace

Status CheckIdentifier(std::string_view name, std::string_view what) {
  bool ok = !name.empty() && name.size() <= kMaxIdentifierLength && IsIdentifierStart(name[0]);
  for (size_t i = 1; ok && i < name.size(); ++i) ok = IsIdentifierPart(name[i]);
  if (ok) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " '" + std::string(name) +
                                 "' is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)");
}

Status CheckTableName(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return CheckIdentifier(name, "table");
  if (Status s = CheckIdentifier(name.substr(0, dot), "schema"); !s.ok()) return s;
  return CheckIdentifier(name.substr(dot + 1), "table");
}

Status CheckColumns(std::span<const SqlColumnValue> columns, std::string_view context) {
  std::set<std::string_view> seen;
  for (const SqlColumnValue& c : columns) {
    if (Status s = CheckIdentifier(c.column, "column"); !s.ok()) return s;
    if (!seen.insert(c.column).second) {
      return Status::InvalidArgument(std::string(context) + ": column " + c.column + " named twice");
    }
  }
  return Status::Ok();
}

std::string_view LockingReadSuffix(SqlEngine engine) {
  return engine == SqlEngine::kSqlite ? "" : " FOR UPDATE";
}

}  // namespace oncemq::toolkit
