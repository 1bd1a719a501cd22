#pragma once

#include <string>

namespace normtrain {

// `format` filled in as C's printf fills it (a tie such as 12.125 rounds to even): the digits
// of the reports' numbers, which the shell version of the reports printed with awk. At most
// 63 characters. C-variadic so that the compiler checks each call's format against its
// arguments.
[[gnu::format(printf, 1, 2)]] std::string printf_string(const char* format, ...);

// `text` as one field of a tab-separated line: tabs and line breaks become spaces.
std::string tsv_field(std::string text);

// `text` as one Markdown table cell: a "|" inside would end the cell early.
std::string markdown_cell(const std::string& text);

}  // namespace normtrain
