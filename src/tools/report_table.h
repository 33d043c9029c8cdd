// The row writer every `flowtrail report` subcommand shares: a table of
// named columns rendered as an aligned text table (numbers right-aligned),
// JSON lines (one object per row; numeric columns as JSON numbers) or CSV
// (a header row, then the rows; RFC 4180 quoting).
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace flowtrail::tools {

enum class ReportFormat { kTable, kJson, kCsv };

// "table", "json", "csv"; false for anything else.
inline bool ParseReportFormat(std::string_view name, ReportFormat* out) {
  if (name == "table") {
    *out = ReportFormat::kTable;
  } else if (name == "json") {
    *out = ReportFormat::kJson;
  } else if (name == "csv") {
    *out = ReportFormat::kCsv;
  } else {
    return false;
  }
  return true;
}

struct ReportColumn {
  std::string name;
  bool numeric = false;
};

class ReportTable {
 public:
  explicit ReportTable(std::vector<ReportColumn> columns) : columns_(std::move(columns)) {}
  // One value per column, already formatted.
  void AddRow(std::vector<std::string> values) { rows_.push_back(std::move(values)); }
  size_t rows() const { return rows_.size(); }

  std::string Render(ReportFormat format) const {
    switch (format) {
      case ReportFormat::kJson:
        return Json();
      case ReportFormat::kCsv:
        return Csv();
      case ReportFormat::kTable:
        break;
    }
    return Table();
  }

 private:
  std::string Table() const {
    std::vector<size_t> width(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      width[c] = columns_[c].name.size();
    }
    for (const auto& row : rows_) {
      for (size_t c = 0; c < columns_.size() && c < row.size(); ++c) {
        width[c] = std::max(width[c], row[c].size());
      }
    }
    std::string out;
    auto cell = [&](size_t c, const std::string& v) {
      if (c) {
        out += "  ";
      }
      const std::string pad(width[c] - std::min(width[c], v.size()), ' ');
      out += columns_[c].numeric ? pad + v : v + (c + 1 < columns_.size() ? pad : "");
    };
    for (size_t c = 0; c < columns_.size(); ++c) {
      cell(c, columns_[c].name);
    }
    out += '\n';
    for (const auto& row : rows_) {
      for (size_t c = 0; c < columns_.size(); ++c) {
        cell(c, c < row.size() ? row[c] : "");
      }
      out += '\n';
    }
    return out;
  }

  static std::string JsonString(const std::string& v) {
    std::string out = "\"";
    for (char ch : v) {
      if (ch == '"' || ch == '\\') {
        out += '\\';
        out += ch;
      } else if (static_cast<unsigned char>(ch) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
        out += buf;
      } else {
        out += ch;
      }
    }
    return out + "\"";
  }

  std::string Json() const {
    std::string out;
    for (const auto& row : rows_) {
      out += '{';
      for (size_t c = 0; c < columns_.size(); ++c) {
        if (c) {
          out += ',';
        }
        out += JsonString(columns_[c].name) + ':';
        const std::string& v = c < row.size() ? row[c] : "";
        out += columns_[c].numeric && !v.empty() ? v : JsonString(v);
      }
      out += "}\n";
    }
    return out;
  }

  static std::string CsvField(const std::string& v) {
    if (v.find_first_of(",\"\n\r") == std::string::npos) {
      return v;
    }
    std::string out = "\"";
    for (char ch : v) {
      out += ch;
      if (ch == '"') {
        out += '"';
      }
    }
    return out + "\"";
  }

  std::string Csv() const {
    std::string out;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (c) {
        out += ',';
      }
      out += CsvField(columns_[c].name);
    }
    out += '\n';
    for (const auto& row : rows_) {
      for (size_t c = 0; c < columns_.size(); ++c) {
        if (c) {
          out += ',';
        }
        out += CsvField(c < row.size() ? row[c] : "");
      }
      out += '\n';
    }
    return out;
  }

  std::vector<ReportColumn> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace flowtrail::tools
