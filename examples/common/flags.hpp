#pragma once
// A tiny command-line parser shared by the examples: `--name value`, `--name=value`,
// bare `--name` for booleans, and `--help` printing every flag with its default.
//
//   int epochs = 10;
//   double lr = 0.1;
//   examples::Flags flags("fashion_mnist", "Trains an MLP on Fashion-MNIST.");
//   flags.add("epochs", epochs, "passes over the training set");
//   flags.add("lr", lr, "learning rate");
//   flags.parse_or_exit(argc, argv);  // --help: prints and exits 0; a bad flag: exits 2
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace examples {

class Flags {
 public:
  Flags(std::string program, std::string description)
      : program_(std::move(program)), description_(std::move(description)) {}

  /// Registers --name bound to `target`; its current value is the default shown by --help.
  /// V: bool, any integer type, float, double or std::string.
  template <class V>
  Flags& add(const std::string& name, V& target, std::string help) {
    if (name.empty() || name == "help" || name.rfind("--", 0) == 0 || find(name))
      throw std::logic_error("Flags::add: bad or duplicate flag name '" + name + "'");
    Flag flag{name, std::move(help), to_text(target), placeholder<V>(), std::is_same_v<V, bool>, {}};
    flag.set = [&target, name](const std::string& text) { target = from_text<V>(name, text); };
    flags_.push_back(std::move(flag));
    return *this;
  }

  /// Sets the registered variables from argv. Returns false when --help was given (the
  /// help is then printed to `out`); throws std::invalid_argument naming the flag for an
  /// unknown flag, a missing value, or a value that does not parse.
  bool parse(int argc, const char* const* argv, std::ostream& out = std::cout) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        out << help();
        return false;
      }
      if (arg.rfind("--", 0) != 0 || arg.size() == 2)
        throw std::invalid_argument("unexpected argument '" + arg + "' (flags look like --name value; see --help)");
      std::string name = arg.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      Flag* flag = find(name);
      if (!flag) throw std::invalid_argument("unknown flag --" + name + " (see --help)");
      if (!has_value) {
        if (flag->is_bool) {
          value = "true";  // a bare boolean flag switches it on
        } else {
          if (i + 1 >= argc) throw std::invalid_argument("flag --" + name + " needs a value " + flag->placeholder);
          value = argv[++i];
        }
      }
      flag->set(value);
    }
    return true;
  }
  bool parse(int argc, char** argv, std::ostream& out = std::cout) {
    return parse(argc, const_cast<const char* const*>(argv), out);
  }

  /// parse() for a main(): exits 0 after --help, and 2 with the message after a bad flag.
  void parse_or_exit(int argc, char** argv) {
    try {
      if (!parse(argc, argv)) std::exit(0);
    } catch (const std::invalid_argument& e) {
      std::cerr << program_ << ": " << e.what() << "\n";
      std::exit(2);
    }
  }

  std::string help() const {
    std::ostringstream s;
    s << "Usage: " << program_ << " [--flag value ...]\n";
    if (!description_.empty()) s << description_ << "\n";
    s << "\nFlags:\n";
    std::size_t width = 6;  // "--help"
    for (const auto& f : flags_) width = std::max(width, usage(f).size());
    for (const auto& f : flags_) {
      const auto u = usage(f);
      s << "  " << u << std::string(width - u.size() + 2, ' ') << f.help << " (default: " << f.default_text << ")\n";
    }
    s << "  --help" << std::string(width - 6 + 2, ' ') << "print this help and exit\n";
    return s.str();
  }

 private:
  struct Flag {
    std::string name, help, default_text, placeholder;
    bool is_bool;
    std::function<void(const std::string&)> set;
  };

  Flag* find(const std::string& name) {
    for (auto& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }
  static std::string usage(const Flag& f) {
    return "--" + f.name + (f.is_bool ? "[=" + f.placeholder + "]" : " " + f.placeholder);
  }

  template <class V>
  static std::string placeholder() {
    if constexpr (std::is_same_v<V, bool>) return "true|false";
    else if constexpr (std::is_integral_v<V>) return "<int>";
    else if constexpr (std::is_floating_point_v<V>) return "<number>";
    else return "<text>";
  }

  template <class V>
  static std::string to_text(const V& v) {
    if constexpr (std::is_same_v<V, bool>) return v ? "true" : "false";
    else if constexpr (std::is_same_v<V, std::string>) return v.empty() ? "\"\"" : v;
    else {
      std::ostringstream s;
      s << v;
      return s.str();
    }
  }

  template <class V>
  static V from_text(const std::string& name, const std::string& text) {
    const auto bad = [&](const std::string& why) {
      return std::invalid_argument("flag --" + name + ": '" + text + "' " + why);
    };
    if constexpr (std::is_same_v<V, std::string>) {
      return text;
    } else if constexpr (std::is_same_v<V, bool>) {
      if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "0" || text == "no" || text == "off") return false;
      throw bad("is not true or false");
    } else {
      static_assert(std::is_arithmetic_v<V>, "Flags::add: unsupported flag type");
      V v{};
      const char* first = text.data();
      const char* last = text.data() + text.size();
      // from_chars rejects a leading '+' and would wrap "-1" into an unsigned: handle both.
      if (first != last && *first == '+') ++first;
      if constexpr (std::is_unsigned_v<V>)
        if (first != last && *first == '-') throw bad("is negative, expected a non-negative integer");
      const auto [end, ec] = std::from_chars(first, last, v);
      if (ec == std::errc::result_out_of_range) throw bad("is out of range");
      if (ec != std::errc() || end != last || first == last)
        throw bad(std::is_integral_v<V> ? "is not an integer" : "is not a number");
      return v;
    }
  }

  std::string program_, description_;
  std::vector<Flag> flags_;
};

/// A flag's comma-separated list of positive sizes ("256,128"); an error names the flag and
/// shows `like`, an example of such a list. An empty text gives an empty list.
inline std::vector<std::size_t> parse_sizes(const std::string& flag, const std::string& text, const std::string& like) {
  std::vector<std::size_t> sizes;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    const long v = std::stol(item, &used);
    if (used != item.size() || v <= 0) throw std::invalid_argument(flag + ": '" + text + "' is not a list like " + like);
    sizes.push_back(static_cast<std::size_t>(v));
  }
  return sizes;
}

}  // namespace examples
