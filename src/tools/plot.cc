#include "tools/plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "absl/strings/str_format.h"

namespace flowtrail::tools {

namespace {

struct Rgb {
  double r, g, b;
};
// Neutral grey, then alternating cluster colours (colour-blind safe
// Okabe-Ito hues).
constexpr Rgb kNeutral{0.62, 0.62, 0.62};
constexpr Rgb kPalette[] = {
    {0.00, 0.45, 0.70}, {0.90, 0.62, 0.00}, {0.00, 0.62, 0.45},
    {0.80, 0.47, 0.65}, {0.84, 0.37, 0.00}, {0.34, 0.71, 0.91},
};

constexpr const char* kFont = "DejaVu Sans";

// 1, 2 or 5 times a power of ten, so that about `target` steps cover `max`.
double NiceStep(double max, int target) {
  const double raw = std::max(max, 1.0) / target;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) {
      return std::max(1.0, m * p);
    }
  }
  return std::max(1.0, 10 * p);
}

std::string Count(double v) { return absl::StrFormat("%.0f", v); }

// Text shortened with "…" to fit `max_chars`.
std::string Fit(const std::string& s, size_t max_chars) {
  return s.size() <= max_chars ? s : s.substr(0, max_chars - 1) + "\u2026";
}

void Text(cairo_t* cr, double x, double y, const std::string& s, double size, bool bold,
          double align /* 0 left, 0.5 centre, 1 right */) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - align * e.x_advance, y);
  cairo_show_text(cr, s.c_str());
}

// Text ending at (x, y), rotated by `angle` (radians, counter-clockwise).
void RotatedText(cairo_t* cr, double x, double y, const std::string& s, double size, double angle) {
  cairo_save(cr);
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -angle);
  cairo_move_to(cr, -e.x_advance, e.height / 2);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

}  // namespace

absl::Status WriteHistogramPng(const Histogram& h, const std::string& path) {
  const size_t n = h.bars.size();
  const bool every_label = n <= 40;
  const double left = 90, right = 30, top = 78, bottom = every_label ? 130 : 120;
  // At least 3 px per column for many columns, up to 2400 px wide.
  const double plot_w = std::clamp(3.0 * static_cast<double>(n), 880.0, 2400.0 - left - right);
  const double plot_h = 400;
  const int width = static_cast<int>(left + plot_w + right);
  const int height = static_cast<int>(top + plot_h + bottom);

  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height), cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(
        absl::StrFormat("cairo: %s", cairo_status_to_string(cairo_surface_status(surface.get()))));
  }
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> ctx(cairo_create(surface.get()),
                                                         cairo_destroy);
  cairo_t* cr = ctx.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  // Title and subtitle.
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, width / 2.0, 30, h.title, 18, true, 0.5);
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  Text(cr, width / 2.0, 54, h.subtitle, 13, false, 0.5);

  uint64_t max_count = 1;
  for (const HistogramBar& b : h.bars) {
    max_count = std::max(max_count, b.count);
  }
  // Head room above the tallest column for its label, and for the legend.
  const size_t legend_rows = std::min<size_t>(h.legend.size(), 6);
  const double legend_h = legend_rows ? 10 + 18 * static_cast<double>(legend_rows) : 0;
  const double head = std::max(0.08, (legend_h + 18) / plot_h);
  const double step = NiceStep(static_cast<double>(max_count) * (1 + head), 6);
  const double y_max = std::ceil(static_cast<double>(max_count) * (1 + head) / step) * step;
  auto y_of = [&](double v) { return top + plot_h - plot_h * v / y_max; };

  // Horizontal grid and y ticks.
  cairo_set_line_width(cr, 1);
  for (double v = 0; v <= y_max + 1e-9; v += step) {
    const double y = std::round(y_of(v)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, left, y);
    cairo_line_to(cr, left + plot_w, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    Text(cr, left - 8, y + 4, Count(v), 12, false, 1);
  }

  // Bars: at most 90 px a column, centred (a few values are not slabs).
  const double slot = n ? std::min(plot_w / static_cast<double>(n), 90.0) : plot_w;
  const double x0 = left + (plot_w - slot * static_cast<double>(n)) / 2;
  const double gap = slot >= 6 ? std::min(slot * 0.2, 8.0) : 0;
  for (size_t i = 0; i < n; ++i) {
    const HistogramBar& b = h.bars[i];
    const Rgb c = b.cluster < 0 ? kNeutral : kPalette[b.cluster % std::size(kPalette)];
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    const double x = x0 + slot * static_cast<double>(i) + gap / 2;
    const double y = y_of(static_cast<double>(b.count));
    // A column of 1 session stays visible however tall the axis is.
    cairo_rectangle(cr, x, std::min(y, top + plot_h - 1.5), std::max(slot - gap, 1.0),
                    std::max(top + plot_h - y, 1.5));
    cairo_fill(cr);
    if (every_label && slot >= 14) {
      cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
      Text(cr, x + (slot - gap) / 2, std::min(y, top + plot_h - 1.5) - 5, std::to_string(b.count),
           slot >= 30 ? 11 : 9, false, 0.5);
    }
  }

  // Axes.
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1.5);
  cairo_move_to(cr, left, top);
  cairo_line_to(cr, left, top + plot_h);
  cairo_line_to(cr, left + plot_w, top + plot_h);
  cairo_stroke(cr);

  // X ticks: every column's label when they fit, else evenly spaced ones.
  std::vector<size_t> ticks;
  if (every_label) {
    ticks.resize(n);
    std::iota(ticks.begin(), ticks.end(), size_t{0});
  } else {
    const size_t every = (n + 11) / 12;
    for (size_t i = 0; i < n; i += every) {
      ticks.push_back(i);
    }
  }
  const double label_size = every_label && n > 20 ? 10 : 11;
  for (size_t i : ticks) {
    const double x = x0 + slot * (static_cast<double>(i) + 0.5);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, top + plot_h);
    cairo_line_to(cr, x, top + plot_h + 5);
    cairo_stroke(cr);
    RotatedText(cr, x + 3, top + plot_h + 12, Fit(h.bars[i].label, 18), label_size, M_PI / 4);
  }

  // Many columns: the largest ones carry their value above the bar (the
  // paper's "the values for the three largest clusters are shown"), when
  // they stand out (at least twice the median column).
  if (!every_label) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return h.bars[a].count > h.bars[b].count; });
    const uint64_t median = h.bars[order[n / 2]].count;
    while (!order.empty() && h.bars[order.back()].count < 2 * median) {
      order.pop_back();
    }
    std::vector<double> used;  // x of annotations already placed
    int placed = 0;
    for (size_t k = 0; k < order.size() && placed < 6; ++k) {
      const size_t i = order[k];
      const double x = x0 + slot * (static_cast<double>(i) + 0.5);
      if (std::any_of(used.begin(), used.end(), [&](double u) { return std::abs(u - x) < 90; })) {
        continue;
      }
      used.push_back(x);
      ++placed;
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      Text(cr, x, y_of(static_cast<double>(h.bars[i].count)) - 6,
           Fit(h.bars[i].label, 20) + " (" + std::to_string(h.bars[i].count) + ")", 11, false, 0.5);
    }
  }

  // Axis labels.
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, left + plot_w / 2, height - 16, h.x_label, 13, false, 0.5);
  cairo_save(cr);
  cairo_translate(cr, 34, top + plot_h / 2);
  cairo_rotate(cr, -M_PI / 2);
  Text(cr, 0, 0, h.y_label, 13, false, 0.5);
  cairo_restore(cr);

  // Legend: one swatch per explained cluster colour.
  if (!h.legend.empty()) {
    const size_t shown = std::min<size_t>(h.legend.size(), 6);
    cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
    double text_w = 0;
    for (size_t i = 0; i < shown; ++i) {
      cairo_text_extents_t e;
      cairo_text_extents(cr, h.legend[i].first.c_str(), &e);
      text_w = std::max(text_w, e.x_advance);
    }
    const double box_w = text_w + 34, box_h = 10 + 18 * static_cast<double>(shown);
    const double bx = left + plot_w - box_w - 6, by = top + 6;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, bx, by, box_w, box_h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t i = 0; i < shown; ++i) {
      const int k = h.legend[i].second;
      const Rgb c = k < 0 ? kNeutral : kPalette[k % std::size(kPalette)];
      const double y = by + 8 + 18 * static_cast<double>(i);
      cairo_set_source_rgb(cr, c.r, c.g, c.b);
      cairo_rectangle(cr, bx + 8, y, 12, 12);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      Text(cr, bx + 26, y + 10, h.legend[i].first, 11, false, 0);
    }
  }

  cairo_surface_flush(surface.get());
  const cairo_status_t st = cairo_surface_write_to_png(surface.get(), path.c_str());
  if (st != CAIRO_STATUS_SUCCESS) {
    return absl::UnavailableError(
        absl::StrFormat("cannot write %s: %s", path, cairo_status_to_string(st)));
  }
  return absl::OkStatus();
}

}  // namespace flowtrail::tools
