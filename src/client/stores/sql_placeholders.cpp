#include "client/stores/sql_placeholders.h"

namespace oncemq::client {

namespace {

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// The scan of one statement: `pos` is the next byte to look at.
class Scanner {
 public:
  Scanner(std::string_view sql, SqlDialect dialect) : sql_(sql), dialect_(dialect) {}

  std::vector<size_t> Placeholders() {
    std::vector<size_t> found;
    while (pos_ < sql_.size()) {
      if (sql_[pos_] == '?') {
        found.push_back(pos_++);
      } else {
        SkipToken();
      }
    }
    return found;
  }

 private:
  bool At(std::string_view text) const { return sql_.substr(pos_, text.size()) == text; }
  bool NextIs(char c) const { return pos_ + 1 < sql_.size() && sql_[pos_ + 1] == c; }
  bool AfterIdentChar() const { return pos_ > 0 && IsIdentChar(sql_[pos_ - 1]); }
  bool Mysql() const { return dialect_ == SqlDialect::kMysql; }

  // Skips one literal, identifier, comment, or a single other byte.
  void SkipToken() {
    const char c = sql_[pos_];
    if (c == '\'') return SkipQuoted('\'', Mysql());
    if (c == '"') return SkipQuoted('"', Mysql());
    if (c == '`' && Mysql()) return SkipQuoted('`', false);
    if ((c == 'E' || c == 'e') && !Mysql() && !AfterIdentChar() && NextIs('\'')) {
      ++pos_;
      return SkipQuoted('\'', true);
    }
    if (At("--") || (c == '#' && Mysql())) return SkipLine();
    if (At("/*")) return SkipBlockComment();
    if (c == '$' && !Mysql() && !AfterIdentChar() && SkipDollarQuoted()) return;
    ++pos_;
  }

  // REQUIRES: sql_[pos_] == quote. A doubled quote is a quote inside; with `backslash`, so is \<any>.
  void SkipQuoted(char quote, bool backslash) {
    ++pos_;
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_++];
      if (backslash && c == '\\') {
        if (pos_ < sql_.size()) ++pos_;
      } else if (c == quote) {
        if (pos_ >= sql_.size() || sql_[pos_] != quote) return;
        ++pos_;  // a doubled quote
      }
    }
  }

  void SkipLine() {
    const size_t end = sql_.find('\n', pos_);
    pos_ = end == std::string_view::npos ? sql_.size() : end + 1;
  }

  // REQUIRES: At("/*"). PostgreSQL nests block comments; MySQL does not.
  void SkipBlockComment() {
    pos_ += 2;
    int depth = 1;
    while (pos_ < sql_.size() && depth > 0) {
      if (At("*/")) {
        --depth;
        pos_ += 2;
      } else if (At("/*") && !Mysql()) {
        ++depth;
        pos_ += 2;
      } else {
        ++pos_;
      }
    }
  }

  // REQUIRES: sql_[pos_] == '$'. Skips $tag$…$tag$ and returns true, or returns false (a $1 parameter, a
  // lone $) without moving.
  bool SkipDollarQuoted() {
    size_t end = pos_ + 1;
    if (end < sql_.size() && IsDigit(sql_[end])) return false;
    while (end < sql_.size() && IsIdentChar(sql_[end])) ++end;
    if (end >= sql_.size() || sql_[end] != '$') return false;
    const std::string_view tag = sql_.substr(pos_, end + 1 - pos_);
    const size_t close = sql_.find(tag, end + 1);
    pos_ = close == std::string_view::npos ? sql_.size() : close + tag.size();
    return true;
  }

  std::string_view sql_;
  SqlDialect dialect_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<size_t> FindPlaceholders(std::string_view sql, SqlDialect dialect) {
  return Scanner(sql, dialect).Placeholders();
}

std::string NumberPlaceholders(std::string_view sql, SqlDialect dialect) {
  std::string out;
  out.reserve(sql.size() + 8);
  size_t copied = 0;
  int n = 0;
  for (size_t at : FindPlaceholders(sql, dialect)) {
    out.append(sql.substr(copied, at - copied));
    out += '$';
    out += std::to_string(++n);
    copied = at + 1;
  }
  out.append(sql.substr(copied));
  return out;
}

}  // namespace oncemq::client
