// TextTable: plain aligned text columns, as kafka-consumer-groups prints them. Values hold no tabs
// or newlines (the caller's responsibility); the last column is not padded. Not thread-safe.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace oncemq::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}

  // REQUIRES: row.size() == the header's size.
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // The header, then each row, columns two spaces apart.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace oncemq::cli
