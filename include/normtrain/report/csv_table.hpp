#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace normtrain {

// The fields of one line of a normtrain CSV file (split at every comma; no quoting).
std::vector<std::string> split_csv_line(const std::string& line);

// A CSV file as normtrain writes them: a header line of column names, then rows of fields
// separated by commas, without quoting (no field holds a comma).
class CsvTable {
 public:
  // Throws a runtime Error naming the file when it cannot be read, has no header, or has a row
  // with another number of fields than the header.
  static CsvTable read(const std::filesystem::path& path);

  // The index of the column `name`; throws a runtime Error naming the file and the column
  // when there is none.
  std::size_t column(const std::string& name) const;
  bool has_column(const std::string& name) const;

  std::size_t size() const { return rows_.size(); }
  const std::string& field(std::size_t row, std::size_t column) const { return rows_[row][column]; }
  // The field as a number; none when it is empty. Throws a runtime Error naming the file and
  // line when it is something else.
  std::optional<double> number(std::size_t row, std::size_t column) const;

 private:
  std::filesystem::path path_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace normtrain
