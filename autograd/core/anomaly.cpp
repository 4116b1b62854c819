// Anomaly mode's stack traces, through Boost.Stacktrace (its libbacktrace back end reads the
// function names, and with -g the files and lines, of the program's own frames).
#include "detail/anomaly.hpp"

#include <boost/stacktrace.hpp>

namespace tg::detail {

struct Trace {
  boost::stacktrace::stacktrace frames;
};

void TraceDeleter::operator()(Trace* t) const noexcept { delete t; }

std::unique_ptr<Trace, TraceDeleter> capture_trace() {
  return std::unique_ptr<Trace, TraceDeleter>(new Trace{boost::stacktrace::stacktrace()});
}

namespace {
/// "tg::Variable<double> tg::log<double>(tg::Variable<double> const&)" -> "tg::log<double>":
/// the qualified name, without a return type or parameters.
std::string qualified_name(std::string demangled) {
  for (std::size_t at; (at = demangled.find("(anonymous namespace)")) != std::string::npos;)
    demangled.replace(at, 21, "{anonymous}");
  int depth = 0;
  std::size_t start = 0, end = demangled.size();
  for (std::size_t i = 0; i < demangled.size(); ++i) {
    const char ch = demangled[i];
    if (ch == '<' || ch == '{') ++depth;
    else if (ch == '>' || ch == '}') --depth;
    else if (depth == 0 && ch == ' ') start = i + 1;
    else if (depth == 0 && ch == '(') {
      end = i;
      break;
    }
  }
  return demangled.substr(start, end - start);
}

bool is_library_frame(const std::string& name) {
  const std::string q = qualified_name(name);
  for (const char* prefix : {"tg::", "std::", "boost::", "__", "void tg::"})
    if (q.rfind(prefix, 0) == 0) return true;
  return q.empty();
}
}  // namespace

std::string calling_op() {
  for (const auto& frame : boost::stacktrace::stacktrace()) {
    std::string q = qualified_name(frame.name());
    if (q.rfind("tg::", 0) != 0) continue;
    std::string plain;  // without template arguments: "Variable<float>::shape" -> "Variable::shape"
    int depth = 0;
    for (char ch : q.substr(4)) {
      if (ch == '<') ++depth;
      else if (ch == '>') --depth;
      else if (depth == 0) plain += ch;
    }
    q = plain;
    // The handle's own methods, internals and kernels are not ops.
    if (q.empty() || q.find("::") != std::string::npos) continue;
    return q;
  }
  return "";
}

std::string where_created(const Trace& trace) {
  constexpr std::size_t max_frames = 8;
  std::string out;
  std::size_t shown = 0;
  bool in_user_code = false;
  for (const auto& frame : trace.frames) {
    const std::string name = frame.name();
    if (!in_user_code && is_library_frame(name)) continue;  // tapegrad's own frames, innermost
    in_user_code = true;
    if (is_library_frame(name)) continue;
    out += "\n    #" + std::to_string(shown) + " " + (name.empty() ? "??" : name);
    const std::string file = frame.source_file();
    if (!file.empty()) out += " at " + file + ":" + std::to_string(frame.source_line());
    if (++shown == max_frames || name == "main") break;
  }
  if (out.empty()) return "";
  return "\n  the op was created at (innermost first; build with -g for files and lines):" + out;
}

}  // namespace tg::detail
