#include "client/stores/postgres_sql.h"

#include <vector>

namespace oncemq::client {

namespace {

bool IdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// The end of the quoted text starting at sql[i] == quote; `backslash` makes \x an escaped character.
size_t SkipQuoted(std::string_view sql, size_t i, char quote, bool backslash) {
  for (++i; i < sql.size(); ++i) {
    if (backslash && sql[i] == '\\') {
      ++i;
    } else if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) {
        ++i;  // a doubled quote stands for itself
      } else {
        return i + 1;
      }
    }
  }
  return sql.size();
}

size_t SkipBlockComment(std::string_view sql, size_t i) {
  int depth = 0;
  while (i < sql.size()) {
    if (sql.compare(i, 2, "/*") == 0) {
      ++depth;
      i += 2;
    } else if (sql.compare(i, 2, "*/") == 0) {
      i += 2;
      if (--depth == 0) return i;
    } else {
      ++i;
    }
  }
  return sql.size();
}

// If sql[i] == '$' opens a dollar quote, the position after its closing tag; otherwise i.
size_t SkipDollarQuoted(std::string_view sql, size_t i) {
  if (i > 0 && IdentifierChar(sql[i - 1])) return i;  // part of an identifier like a$b
  size_t j = i + 1;
  if (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') return i;  // $1: a numbered parameter
  while (j < sql.size() && sql[j] != '$' && IdentifierChar(sql[j])) ++j;
  if (j >= sql.size() || sql[j] != '$') return i;
  const std::string_view tag = sql.substr(i, j - i + 1);
  const size_t close = sql.find(tag, j + 1);
  return close == std::string_view::npos ? sql.size() : close + tag.size();
}

// The offset after whatever starts at sql[i] and hides placeholders, or i when nothing does.
size_t SkipHidden(std::string_view sql, size_t i) {
  const char c = sql[i];
  if (c == '\'') {
    const bool escaped =
        i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !IdentifierChar(sql[i - 2]));
    return SkipQuoted(sql, i, '\'', escaped);
  }
  if (c == '"') return SkipQuoted(sql, i, '"', false);
  if (sql.compare(i, 2, "--") == 0) {
    const size_t eol = sql.find('\n', i);
    return eol == std::string_view::npos ? sql.size() : eol + 1;
  }
  if (sql.compare(i, 2, "/*") == 0) return SkipBlockComment(sql, i);
  if (c == '$') return SkipDollarQuoted(sql, i);
  return i;
}

std::vector<size_t> Placeholders(std::string_view sql) {
  std::vector<size_t> at;
  for (size_t i = 0; i < sql.size();) {
    const size_t next = SkipHidden(sql, i);
    if (next != i) {
      i = next;
      continue;
    }
    if (sql[i] == '?') at.push_back(i);
    ++i;
  }
  return at;
}

}  // namespace

size_t CountSqlPlaceholders(std::string_view sql) {
  return Placeholders(sql).size();
}

std::string NumberSqlPlaceholders(std::string_view sql) {
  std::string out;
  size_t from = 0;
  int n = 0;
  for (size_t at : Placeholders(sql)) {
    out.append(sql.substr(from, at - from));
    out += "$" + std::to_string(++n);
    from = at + 1;
  }
  out.append(sql.substr(from));
  return out;
}

}  // namespace oncemq::client
