// Histograms of value counts as PNG pictures, drawn with Cairo: the pictures
// of `flowtrail report clusters --plot` (Heberlein's Figures 1, 2, 4 and 5).
// One column per distinct value, in the order given (the x-axis has no
// scale: "each column represents a unique value"), y = sessions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace flowtrail::tools {

struct HistogramBar {
  std::string label;  // the value as text (ticks and annotations)
  uint64_t count = 0;
  // Bars of one cluster share a colour; -1: the neutral colour. Adjacent
  // clusters alternate through a small palette.
  int cluster = -1;
};

struct Histogram {
  std::string title;
  std::string subtitle;
  std::string x_label;
  std::string y_label = "sessions";
  std::vector<HistogramBar> bars;
  // Cluster colours explained in a box at the top right: (text, cluster).
  std::vector<std::pair<std::string, int>> legend;
};

// Writes `h` as a PNG at `path` (about 1000 x 600 pixels, wider for many
// columns). Ticks: every column's label when they fit (up to 40 columns),
// else about 12 evenly spaced ones, and the largest columns annotated with
// their value above the bar; up to 40 columns each carry its count on top.
absl::Status WriteHistogramPng(const Histogram& h, const std::string& path);

}  // namespace flowtrail::tools
