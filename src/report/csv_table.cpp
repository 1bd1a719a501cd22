#include "normtrain/report/csv_table.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1) {
    fields.push_back(line.substr(start, comma - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

CsvTable CsvTable::read(const std::filesystem::path& path) {
  std::ifstream in(path);
  CsvTable table;
  table.path_ = path;
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) {
    throw RuntimeError(
        fmt::format("{} is missing, unreadable or has no header line", path.string()));
  }
  table.header_ = split_csv_line(line);
  for (std::size_t number = 2; std::getline(in, line); ++number) {
    std::vector<std::string> fields = split_csv_line(line);
    if (fields.size() != table.header_.size()) {
      throw RuntimeError(fmt::format("{}, line {}: {} fields where the header has {}",
                                     path.string(), number, fields.size(), table.header_.size()));
    }
    table.rows_.push_back(std::move(fields));
  }
  return table;
}

bool CsvTable::has_column(const std::string& name) const {
  return std::find(header_.begin(), header_.end(), name) != header_.end();
}

std::size_t CsvTable::column(const std::string& name) const {
  const auto found = std::find(header_.begin(), header_.end(), name);
  if (found == header_.end()) {
    throw RuntimeError(fmt::format("{} has no column '{}'", path_.string(), name));
  }
  return static_cast<std::size_t>(found - header_.begin());
}

std::optional<double> CsvTable::number(std::size_t row, std::size_t column) const {
  const std::string& text = rows_[row][column];
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) {
    throw RuntimeError(
        fmt::format("{}, line {}: '{}' is not a number", path_.string(), row + 2, text));
  }
  return value;
}

}  // namespace normtrain
