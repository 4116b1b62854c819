#pragma once
// Loss and accuracy curves from a metrics CSV (see metrics_csv.hpp), drawn into a PNG by
// gnuplot (Debian: gnuplot-nox). A plot is a nicety: without gnuplot, or when it fails,
// plot_metrics prints a note and returns false; it never throws and never ends the program.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace examples {

namespace plot_detail {
/// 'text' for a gnuplot script: inside single quotes a quote is written twice.
inline std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}
/// 'text' for sh: a quote becomes '\''.
inline std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
inline std::vector<std::string> split_header(const std::string& line) {
  std::vector<std::string> cols;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) {
    if (!c.empty() && c.back() == '\r') c.pop_back();
    cols.push_back(c);
  }
  return cols;
}
}  // namespace plot_detail

/// The gnuplot script plot_metrics runs: columns whose name holds "loss" in a left panel,
/// those holding "acc" in a right one (everything else in one panel if neither is there),
/// each against the CSV's first column (the epoch). Empty when the CSV has no header.
inline std::string metrics_plot_script(const std::string& csv_path, const std::string& png_path,
                                       const std::string& title) {
  using plot_detail::gp_quote;
  std::ifstream in(csv_path);
  std::string header;
  if (!in || !std::getline(in, header)) return {};
  const auto cols = plot_detail::split_header(header);
  if (cols.size() < 2) return {};

  std::size_t rows = 0;
  for (std::string line; std::getline(in, line);) rows += !line.empty();

  std::vector<std::size_t> loss, acc, other;
  for (std::size_t i = 1; i < cols.size(); ++i) {
    if (cols[i].find("loss") != std::string::npos) loss.push_back(i);
    else if (cols[i].find("acc") != std::string::npos) acc.push_back(i);
    else other.push_back(i);
  }
  std::vector<std::pair<std::string, std::vector<std::size_t>>> panels;
  if (!loss.empty()) panels.push_back({"loss", loss});
  if (!acc.empty()) panels.push_back({"accuracy", acc});
  if (panels.empty()) panels.push_back({"value", other});

  std::ostringstream s;
  const int width = 560 * static_cast<int>(panels.size());
  // pngcairo draws anti-aliased lines; plain png (libgd) is the fallback some builds have.
  s << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
    << "  set terminal pngcairo noenhanced size " << width << ",420 font 'sans,10'\n"
    << "} else {\n"
    << "  set terminal png noenhanced size " << width << ",420\n"
    << "}\n"
    << "set output " << gp_quote(png_path) << "\n"
    << "set datafile separator ','\n"
    << "set grid\n"
    << "set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05\n"
    << "set xrange [0:*]\n"                   // a one-epoch run is not an empty range
    << (rows <= 20 ? "set xtics 1\n" : "")  // whole epochs, while they fit
    << "set xlabel " << gp_quote(cols[0]) << "\n"
    << "set multiplot layout 1," << panels.size() << " title " << gp_quote(title) << "\n";
  for (const auto& [name, columns] : panels) {
    s << "set ylabel " << gp_quote(name) << "\n";
    s << (name == "loss" ? "set key top right\n" : "set key bottom right\n");
    s << "plot ";
    for (std::size_t k = 0; k < columns.size(); ++k)
      s << (k ? ", " : "") << gp_quote(csv_path) << " using 1:" << columns[k] + 1
        << " skip 1 with linespoints pointtype 7 pointsize 0.6 title " << gp_quote(cols[columns[k]]);
    s << "\n";
  }
  s << "unset multiplot\nset output\n";
  return s.str();
}

/// Draws the CSV's curves into png_path with `gnuplot` (the program to run). Leaves the
/// script beside the PNG (png_path + ".gp") for whoever wants to restyle the plot.
/// Returns whether the PNG was made; on any failure prints one note to `note` instead.
inline bool plot_metrics(const std::string& csv_path, const std::string& png_path, const std::string& title,
                         const std::string& gnuplot = "gnuplot", std::ostream& note = std::cerr) {
  using plot_detail::sh_quote;
  try {
    if (std::system(("command -v " + sh_quote(gnuplot) + " >/dev/null 2>&1").c_str()) != 0) {
      note << "note: " << gnuplot << " not found, so no plot " << png_path
           << " (apt-get install gnuplot-nox); the numbers are in " << csv_path << "\n";
      return false;
    }
    const std::string script = metrics_plot_script(csv_path, png_path, title);
    if (script.empty()) {
      note << "note: " << csv_path << " has no columns to plot; no plot " << png_path << "\n";
      return false;
    }
    const std::string script_path = png_path + ".gp";
    {
      std::ofstream out(script_path, std::ios::trunc);
      out << script;
      if (!out) {
        note << "note: cannot write " << script_path << "; no plot " << png_path << "\n";
        return false;
      }
    }
    std::remove(png_path.c_str());  // so a stale PNG never passes for a new one
    const int status = std::system((sh_quote(gnuplot) + " " + sh_quote(script_path) + " 2>&1").c_str());
    std::ifstream png(png_path, std::ios::binary);
    if (status != 0 || !png || png.peek() == std::ifstream::traits_type::eof()) {
      note << "note: " << gnuplot << " failed (status " << status << ") on " << script_path << "; no plot "
           << png_path << "\n";
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    note << "note: plotting " << csv_path << " failed: " << e.what() << "\n";
    return false;
  }
}

}  // namespace examples
