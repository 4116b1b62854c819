#pragma once
// A grid of small grayscale images (reconstructions, filters, dictionary atoms) drawn into a
// PNG by gnuplot, like the curves of plot.hpp. A picture is a nicety: without gnuplot, or when
// it fails, write_image_grid prints a note and returns false; it never throws.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plot.hpp"

namespace examples {

struct ImageGridOptions {
  std::size_t columns = 10;                         // tiles per row of the grid
  std::optional<std::pair<float, float>> range{};   // black..white; default: each tile's own min..max
  std::size_t pixels_per_cell = 3;                  // each image pixel drawn as this many PNG pixels
};

/// Draws images (each height x width floats, row-major) as a grid, one tile each, with a one-cell
/// gap, into png_path. The data and script are left beside it (png_path + ".dat" / ".gp").
inline bool write_image_grid(const std::string& png_path, const std::vector<std::vector<float>>& images,
                             std::size_t height, std::size_t width, const ImageGridOptions& o = {},
                             std::ostream& note = std::cerr) {
  using plot_detail::gp_quote;
  using plot_detail::sh_quote;
  try {
    if (images.empty() || height == 0 || width == 0 || o.columns == 0) {
      note << "note: nothing to draw into " << png_path << "\n";
      return false;
    }
    const std::size_t cols = std::min(o.columns, images.size());
    const std::size_t rows = (images.size() + cols - 1) / cols;
    const std::size_t grid_w = cols * (width + 1) + 1, grid_h = rows * (height + 1) + 1;
    std::vector<float> grid(grid_w * grid_h, 0.5f);  // gaps in mid grey
    for (std::size_t t = 0; t < images.size(); ++t) {
      const auto& img = images[t];
      if (img.size() != height * width) {
        note << "note: image " << t << " has " << img.size() << " values, not " << height * width << "; no plot "
             << png_path << "\n";
        return false;
      }
      float lo, hi;
      if (o.range) {
        lo = o.range->first, hi = o.range->second;
      } else {
        auto [mn, mx] = std::minmax_element(img.begin(), img.end());
        lo = *mn, hi = *mx;
      }
      const float span = hi > lo ? hi - lo : 1.0f;
      const std::size_t top = (t / cols) * (height + 1) + 1, left = (t % cols) * (width + 1) + 1;
      for (std::size_t r = 0; r < height; ++r)
        for (std::size_t c = 0; c < width; ++c)
          grid[(top + r) * grid_w + left + c] = std::clamp((img[r * width + c] - lo) / span, 0.0f, 1.0f);
    }
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
      note << "note: gnuplot not found, so no picture " << png_path << " (apt-get install gnuplot-nox)\n";
      return false;
    }
    const std::string data_path = png_path + ".dat", script_path = png_path + ".gp";
    {
      std::ofstream data(data_path, std::ios::trunc);
      for (std::size_t r = 0; r < grid_h; ++r) {  // gnuplot's matrix rows go upwards: write the top last
        const std::size_t src = grid_h - 1 - r;
        for (std::size_t c = 0; c < grid_w; ++c) data << (c ? " " : "") << grid[src * grid_w + c];
        data << "\n";
      }
      std::ofstream script(script_path, std::ios::trunc);
      script << "set terminal png size " << grid_w * o.pixels_per_cell << "," << grid_h * o.pixels_per_cell
             << "\nset output " << gp_quote(png_path) << "\n"
             << "set lmargin 0\nset rmargin 0\nset bmargin 0\nset tmargin 0\n"
             << "unset xtics\nunset ytics\nunset border\nunset colorbox\nunset key\n"
             << "set palette gray\nset cbrange [0:1]\n"
             << "set xrange [-0.5:" << grid_w - 0.5 << "]\nset yrange [-0.5:" << grid_h - 0.5 << "]\n"
             << "plot " << gp_quote(data_path) << " matrix with image pixels\n";
      if (!data || !script) {
        note << "note: cannot write " << data_path << " or " << script_path << "; no picture\n";
        return false;
      }
    }
    std::remove(png_path.c_str());
    const int status = std::system(("gnuplot " + sh_quote(script_path) + " 2>&1").c_str());
    std::ifstream png(png_path, std::ios::binary);
    if (status != 0 || !png || png.peek() == std::ifstream::traits_type::eof()) {
      note << "note: gnuplot failed (status " << status << ") on " << script_path << "; no picture\n";
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    note << "note: drawing " << png_path << " failed: " << e.what() << "\n";
    return false;
  }
}

}  // namespace examples
