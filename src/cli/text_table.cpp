#include "cli/text_table.h"

#include <algorithm>

namespace oncemq::cli {
namespace {

void PrintRow(std::ostream& out, const std::vector<std::string>& row, const std::vector<size_t>& widths) {
  for (size_t i = 0; i < row.size(); ++i) {
    out << row[i];
    if (i + 1 < row.size()) out << std::string(widths[i] - row[i].size() + 2, ' ');
  }
  out << "\n";
}

}  // namespace

void TextTable::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size());
  for (size_t i = 0; i < header_.size(); ++i) widths[i] = header_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  PrintRow(out, header_, widths);
  for (const auto& row : rows_) PrintRow(out, row, widths);
}

}  // namespace oncemq::cli
