// The examples' shared pieces: flag parser, progress display, confusion matrix, CSV, plot.
#include "testing.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "../../examples/common/confusion.hpp"
#include "../../examples/common/flags.hpp"
#include "../../examples/common/metrics_csv.hpp"
#include "../../examples/common/plot.hpp"
#include "../../examples/common/progress.hpp"

using namespace examples;
namespace fs = std::filesystem;

namespace {
/// Runs parse on a command line given as words (the program name is added).
bool parse(Flags& flags, std::vector<std::string> words, std::ostream& out = std::cout) {
  words.insert(words.begin(), "prog");
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return flags.parse(static_cast<int>(argv.size()), argv.data(), out);
}

template <class F>
void check_invalid(F&& f, const std::string& fragment) {
  try {
    f();
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    INFO("message: " << e.what());
    CHECK(std::string(e.what()).find(fragment) != std::string::npos);
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("tapegrad_test_examples_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};
}  // namespace

// ---- flags --------------------------------------------------------------------------------------

struct Settings {
  int epochs = 10;
  double lr = 0.1;
  std::size_t batch = 64;
  float momentum = 0.9f;
  std::string data = "/usr/share/datasets/fashion-mnist";
  bool verbose = false;
  std::uint64_t seed = 0;
};

Flags make_flags(Settings& s) {
  Flags flags("trainer", "Trains something.");
  flags.add("epochs", s.epochs, "passes over the data")
      .add("lr", s.lr, "learning rate")
      .add("batch-size", s.batch, "examples per step")
      .add("momentum", s.momentum, "SGD momentum")
      .add("data", s.data, "dataset folder")
      .add("verbose", s.verbose, "print more")
      .add("seed", s.seed, "random seed");
  return flags;
}

TEST_CASE("Flags: defaults stay, --name value and --name=value set, bare booleans switch on") {
  Settings s;
  auto flags = make_flags(s);
  CHECK(parse(flags, {}));
  CHECK(s.epochs == 10);
  CHECK(s.data == "/usr/share/datasets/fashion-mnist");

  CHECK(parse(flags, {"--epochs", "3", "--lr=0.01", "--batch-size", "+128", "--momentum", "0.5", "--data", "/tmp/x y",
                      "--verbose", "--seed", "18446744073709551615"}));
  CHECK(s.epochs == 3);
  CHECK(s.lr == doctest::Approx(0.01));
  CHECK(s.batch == 128);
  CHECK(s.momentum == doctest::Approx(0.5f));
  CHECK(s.data == "/tmp/x y");
  CHECK(s.verbose);
  CHECK(s.seed == 18446744073709551615ull);

  CHECK(parse(flags, {"--verbose=false", "--epochs=-2", "--lr", "1e-3", "--data="}));
  CHECK_FALSE(s.verbose);
  CHECK(s.epochs == -2);
  CHECK(s.lr == doctest::Approx(1e-3));
  CHECK(s.data.empty());
}

TEST_CASE("Flags: --help lists every flag with its default and asks the caller to stop") {
  Settings s;
  auto flags = make_flags(s);
  std::ostringstream out;
  CHECK_FALSE(parse(flags, {"--epochs", "4", "--help"}, out));
  const auto help = out.str();
  CHECK(help.find("Usage: trainer") == 0);
  CHECK(help.find("Trains something.") != std::string::npos);
  CHECK(help.find("--epochs <int>") != std::string::npos);
  CHECK(help.find("passes over the data (default: 10)") != std::string::npos);
  CHECK(help.find("--lr <number>") != std::string::npos);
  CHECK(help.find("(default: 0.1)") != std::string::npos);
  CHECK(help.find("--data <text>") != std::string::npos);
  CHECK(help.find("--verbose[=true|false]") != std::string::npos);
  CHECK(help.find("--help") != std::string::npos);
  CHECK(help == flags.help());
  std::ostringstream short_out;
  CHECK_FALSE(parse(flags, {"-h"}, short_out));
}

TEST_CASE("Flags: unknown flags, missing and malformed values are errors naming the flag") {
  Settings s;
  auto flags = make_flags(s);
  check_invalid([&] { parse(flags, {"--epoch", "3"}); }, "unknown flag --epoch");
  check_invalid([&] { parse(flags, {"--epochs"}); }, "flag --epochs needs a value <int>");
  check_invalid([&] { parse(flags, {"--epochs", "3x"}); }, "flag --epochs: '3x' is not an integer");
  check_invalid([&] { parse(flags, {"--epochs", "99999999999"}); }, "'99999999999' is out of range");
  check_invalid([&] { parse(flags, {"--lr", "fast"}); }, "flag --lr: 'fast' is not a number");
  check_invalid([&] { parse(flags, {"--batch-size", "-1"}); }, "flag --batch-size: '-1' is negative");
  check_invalid([&] { parse(flags, {"--verbose=maybe"}); }, "'maybe' is not true or false");
  check_invalid([&] { parse(flags, {"extra"}); }, "unexpected argument 'extra'");
  check_invalid([&] { parse(flags, {"--lr="}); }, "flag --lr: '' is not a number");
  int x = 0;
  CHECK_THROWS_AS(flags.add("epochs", x, "again"), std::logic_error);
  CHECK_THROWS_AS(flags.add("help", x, "reserved"), std::logic_error);
}

// ---- progress -----------------------------------------------------------------------------------

TEST_CASE("parse_sizes: comma-separated positive sizes, anything else an error naming the flag") {
  CHECK(examples::parse_sizes("--hidden", "256,128", "256,128") == std::vector<std::size_t>{256, 128});
  CHECK(examples::parse_sizes("--hidden", "7", "256,128") == std::vector<std::size_t>{7});
  for (const char* bad : {"3,x", "x", "3,,4", "0", "-2", "3.5", "99999999999999999999999"}) {
    CAPTURE(bad);
    try {
      examples::parse_sizes("--kernels", bad, "3,3");
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()) == std::string("--kernels: '") + bad + "' is not a list like 3,3");
    }
  }
}

TEST_CASE("ProgressBar into a log: a line per tenth, then the final line") {
  std::ostringstream out;
  ProgressBar bar("epoch 2/5", 100, {.out = &out});
  CHECK_FALSE(bar.is_tty());
  for (std::size_t i = 1; i <= 100; ++i) bar.update(i, 0.5, i * 32);
  bar.finish("test acc 81.0%");
  const auto text = out.str();
  CHECK(text.find('\r') == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 10);  // 10%..90%, then finish
  CHECK(text.find("epoch 2/5 [") == 0);
  CHECK(text.find(" 10/100  loss 0.5000") != std::string::npos);
  CHECK(text.find(" 90/100") != std::string::npos);
  CHECK(text.find("samples/s  ETA ") != std::string::npos);
  CHECK(text.find("100/100") != std::string::npos);
  CHECK(text.find("took 0.") != std::string::npos);  // a fraction of a second, in tenths
  CHECK(text.find("test acc 81.0%\n") != std::string::npos);

  // Fewer batches than tenths: still one line per batch at most.
  std::ostringstream few;
  ProgressBar small("eval", 3, {.out = &few});
  for (std::size_t i = 1; i <= 3; ++i) small.update(i, 1.0, i);
  small.finish();
  const auto t = few.str();
  CHECK(std::count(t.begin(), t.end(), '\n') == 3);
}

TEST_CASE("ProgressBar on a terminal: redraws in place, one newline at the end") {
  std::ostringstream out;
  ProgressBar bar("epoch 1/1", 4, {.out = &out, .tty = true, .redraw_seconds = 0});
  for (std::size_t i = 1; i <= 4; ++i) bar.update(i, 0.25, i * 10);
  bar.finish();
  const auto text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\r') == 5);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK(text.find("[========================] 4/4") != std::string::npos);
  CHECK(text.find("[======>                 ] 1/4") != std::string::npos);
}

TEST_CASE("format_duration") {
  CHECK(format_duration(0) == "0:00");
  CHECK(format_duration(65.4) == "1:05");
  CHECK(format_duration(3725) == "1:02:05");
  CHECK(format_duration(-1) == "--:--");
  CHECK(format_duration(4.24, true) == "4.2s");
  CHECK(format_duration(59.96, true) == "1:00");
}

// ---- confusion matrix ---------------------------------------------------------------------------

TEST_CASE("ConfusionMatrix counts, accuracy, recall, precision and its printout") {
  ConfusionMatrix cm({"cat", "dog", "bird"});
  cm.add(tg::IndexArray{0, 0, 1, 2, 2, 2}, tg::IndexArray{0, 1, 1, 2, 0, 2});
  cm.add(1, 1);
  CHECK(cm.total() == 7);
  CHECK(cm.correct() == 5);
  CHECK(cm.count(0, 0) == 1);
  CHECK(cm.count(0, 1) == 1);
  CHECK(cm.count(1, 1) == 2);
  CHECK(cm.count(2, 0) == 1);
  CHECK(cm.count(2, 2) == 2);
  CHECK(cm.count(1, 0) == 0);
  CHECK(cm.accuracy() == doctest::Approx(5.0 / 7));
  CHECK(cm.recall(0) == doctest::Approx(0.5));
  CHECK(cm.recall(2) == doctest::Approx(2.0 / 3));
  CHECK(cm.precision(0) == doctest::Approx(0.5));   // predicted cat: one cat, one bird
  CHECK(cm.precision(1) == doctest::Approx(2.0 / 3));

  std::ostringstream out;
  cm.print(out);
  const auto text = out.str();
  INFO(text);
  CHECK(text.find("rows = true class") != std::string::npos);
  CHECK(text.find("0 cat  |      1      1      0 |  50.0%") != std::string::npos);
  CHECK(text.find("2 bird |      1      0      2 |  66.7%") != std::string::npos);
  CHECK(text.find("precision") != std::string::npos);
  CHECK(text.find("accuracy 71.4% (5/7)") != std::string::npos);

  cm.reset();
  CHECK(cm.total() == 0);
  CHECK(cm.accuracy() == 0);
  CHECK(cm.recall(1) == 0);

  tg::testing::check_error([&] { cm.add(3, 0); }, {"ConfusionMatrix: ", "target label 3 is outside 0..2"});
  tg::testing::check_error([&] { cm.add(0, -1); }, {"predicted label -1"});
  tg::testing::check_error([&] { cm.add(tg::IndexArray{0, 1}, tg::IndexArray{0}); },
                           {"targets [2] and predictions [1]"});
}

// ---- CSV and plot -------------------------------------------------------------------------------

TEST_CASE("CsvWriter writes a header and one flushed row per call") {
  TempDir dir;
  const auto path = dir.file("metrics.csv");
  {
    CsvWriter csv(path, {"epoch", "train_loss", "train_acc", "test_loss", "test_acc"});
    csv.row({1, 0.61234567891, 0.78, 0.55, 0.8});
    CHECK(slurp(path) == "epoch,train_loss,train_acc,test_loss,test_acc\n1,0.61234568,0.78,0.55,0.8\n");
    csv.row({2, 0.4, 0.85, std::nan(""), 1e20});
    CHECK_THROWS_AS(csv.row({3, 0.1}), std::invalid_argument);
  }
  CHECK(slurp(path) ==
        "epoch,train_loss,train_acc,test_loss,test_acc\n1,0.61234568,0.78,0.55,0.8\n2,0.4,0.85,nan,1e+20\n");
  CHECK(CsvWriter::format(-3) == "-3");
  CHECK(CsvWriter::format(123456789) == "123456789");
  CHECK_THROWS_AS(CsvWriter(path, {"a,b"}), std::invalid_argument);
  CHECK_THROWS_AS(CsvWriter(dir.file("no/such/dir/m.csv"), {"a"}), std::runtime_error);
}

TEST_CASE("plot_metrics: a PNG through gnuplot, or a note and false without it") {
  TempDir dir;
  const auto csv_path = dir.file("metrics.csv");
  {
    CsvWriter csv(csv_path, {"epoch", "train_loss", "test_loss", "train_acc", "test_acc"});
    for (int e = 1; e <= 5; ++e) csv.row({double(e), 1.0 / e, 1.1 / e, 1 - 0.5 / e, 1 - 0.6 / e});
  }
  const auto script = metrics_plot_script(csv_path, dir.file("curves.png"), "it's a test");
  CHECK(script.find("set multiplot layout 1,2 title 'it''s a test'") != std::string::npos);
  CHECK(script.find("using 1:2 skip 1") != std::string::npos);
  CHECK(script.find("using 1:5 skip 1") != std::string::npos);
  CHECK(script.find("title 'test_acc'") != std::string::npos);
  CHECK(metrics_plot_script(dir.file("absent.csv"), "x.png", "t").empty());

  std::ostringstream note;
  CHECK_FALSE(plot_metrics(csv_path, dir.file("none.png"), "t", "tapegrad-no-such-gnuplot", note));
  CHECK(note.str().find("not found") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("none.png")));

  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    MESSAGE("gnuplot is not installed: the PNG half of this test is skipped");
    return;
  }
  const auto png = dir.file("curves.png");
  std::ostringstream quiet;
  REQUIRE(plot_metrics(csv_path, png, "test run", "gnuplot", quiet));
  CHECK(quiet.str().empty());
  const auto bytes = slurp(png);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(fs::exists(png + ".gp"));
}
