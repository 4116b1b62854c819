// A character-level language model: an LSTM reads The Devil's Dictionary (Ambrose Bierce, 1911,
// public domain; Debian's dict-devil ships it as a gzip-compatible dictd file) one character at a
// time and predicts the next. Training is truncated backpropagation through time: the text is cut
// into batch-size parallel streams, read in chunks of --seq-len characters, and the state carried
// from chunk to chunk is detached (nn::detach_state), so each backward pass stops at the chunk's
// start. Reports validation bits per character per epoch and samples text with a temperature.
#include <malloc.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <tapegrad/tapegrad.hpp>

#include "../common/flags.hpp"
#include "../common/metrics_csv.hpp"
#include "../common/plot.hpp"
#include "../common/progress.hpp"

namespace {

/// The whole text of a gzip (or plain) file; dictd's .dict.dz is gzip with an extra header.
std::string read_text(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path + " (Debian: apt-get install dict-devil, or scripts/setup)");
  std::string text;
  char buffer[1 << 16];
  for (int n; (n = gzread(file, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  gzclose(file);
  // dictfmt puts its own header lines ("00-database-...") first; the book starts at its title page
  const auto start = text.find("THE DEVIL'S DICTIONARY");
  if (start != std::string::npos) text = text.substr(text.rfind('\n', start) + 1);
  return text;
}

/// Characters <-> indices: the sorted distinct bytes of the text.
struct Vocabulary {
  explicit Vocabulary(const std::string& text) {
    std::vector<bool> seen(256, false);
    for (unsigned char c : text) seen[c] = true;
    for (int c = 0; c < 256; ++c)
      if (seen[c]) index[c] = static_cast<tg::Index>(chars.size()), chars.push_back(static_cast<char>(c));
  }
  std::size_t size() const { return chars.size(); }
  std::vector<tg::Index> encode(const std::string& s) const {
    std::vector<tg::Index> out;
    for (unsigned char c : s) out.push_back(index[c] >= 0 ? index[c] : 0);
    return out;
  }
  std::string chars;
  std::array<tg::Index, 256> index = [] {
    std::array<tg::Index, 256> a;
    a.fill(-1);
    return a;
  }();
};

/// embedding -> LSTM -> linear over the vocabulary, for [time, batch] character indices.
class CharModel : public tg::nn::Module<float> {
 public:
  CharModel(std::size_t vocab, std::size_t embedding, std::size_t hidden, std::size_t layers, double dropout) {
    embed = register_module("embed", std::make_shared<tg::nn::Embedding<float>>(vocab, embedding));
    lstm = register_module("lstm", std::make_shared<tg::nn::LSTM<float>>(
                                       embedding, hidden, tg::nn::LSTMOptions{.num_layers = layers, .dropout = dropout}));
    head = register_module("head", std::make_shared<tg::nn::Linear<float>>(hidden, vocab));
  }
  /// Logits [time, batch, vocab] and the state after the last step.
  tg::nn::LSTMOutput<float> forward(const tg::IndexArray& chars, const tg::nn::LSTMState<float>& state) {
    auto r = lstm->forward(embed->forward(chars), state);
    return {head->forward(r.output), r.state};
  }
  std::shared_ptr<tg::nn::Embedding<float>> embed;
  std::shared_ptr<tg::nn::LSTM<float>> lstm;
  std::shared_ptr<tg::nn::Linear<float>> head;
};

/// The encoded text as `streams` parallel rows: stream b holds characters [b L, (b+1) L).
struct Streams {
  Streams(const std::vector<tg::Index>& codes, std::size_t streams) : count(streams), length(codes.size() / streams) {
    data = codes;
  }
  /// Inputs [steps, batch] from position `at` of every stream, and the next characters as
  /// targets, flat [steps·batch] in the order of the logits' rows.
  std::pair<tg::IndexArray, tg::IndexArray> chunk(std::size_t at, std::size_t steps) const {
    tg::IndexArray x = xt::empty<tg::Index>(tg::Shape{steps, count}), y = xt::empty<tg::Index>(tg::Shape{steps * count});
    for (std::size_t t = 0; t < steps; ++t)
      for (std::size_t b = 0; b < count; ++b) {
        x(t, b) = data[b * length + at + t];
        y(t * count + b) = data[b * length + at + t + 1];
      }
    return {x, y};
  }
  std::size_t count, length;
  std::vector<tg::Index> data;
};

/// Mean bits per character of the model on `streams`, read in chunks with the state carried.
double bits_per_char(CharModel& model, const Streams& streams, std::size_t seq_len) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::nn::LSTMState<float> state;
  double nats = 0;
  std::size_t count = 0;
  for (std::size_t at = 0; at + 1 < streams.length; at += seq_len) {
    const std::size_t steps = std::min(seq_len, streams.length - 1 - at);
    auto [x, y] = streams.chunk(at, steps);
    auto r = model.forward(x, state);
    state = r.state;
    const auto vocab = static_cast<std::int64_t>(r.output.shape()[2]);
    nats += tg::nn::cross_entropy(tg::reshape(r.output, {-1, vocab}), y,
                                  {.reduction = tg::nn::Reduction::sum}).item();
    count += y.size();
  }
  model.train();
  return nats / static_cast<double>(count) / std::log(2.0);
}

/// `length` characters drawn one at a time after `prime`, from softmax(logits / temperature).
std::string sample(CharModel& model, const Vocabulary& vocab, const std::string& prime, std::size_t length,
                   double temperature, std::mt19937_64& rng) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::nn::LSTMState<float> state;
  std::string out = prime;
  auto codes = vocab.encode(prime.empty() ? std::string("\n") : prime);
  tg::IndexArray x = xt::empty<tg::Index>(tg::Shape{codes.size(), 1});
  for (std::size_t i = 0; i < codes.size(); ++i) x(i, 0) = codes[i];
  for (std::size_t n = 0; n < length; ++n) {
    auto r = model.forward(x, state);
    state = r.state;
    const auto& logits = r.output.value();
    const std::size_t last = logits.shape()[0] - 1, v = logits.shape()[2];
    std::vector<double> weights(v);
    double top = -1e30;
    for (std::size_t c = 0; c < v; ++c) top = std::max(top, double(logits(last, 0, c)));
    for (std::size_t c = 0; c < v; ++c) weights[c] = std::exp((double(logits(last, 0, c)) - top) / temperature);
    const auto next = static_cast<tg::Index>(std::discrete_distribution<std::size_t>(weights.begin(), weights.end())(rng));
    out += vocab.chars[static_cast<std::size_t>(next)];
    x = xt::empty<tg::Index>(tg::Shape{1, 1});
    x(0, 0) = next;
  }
  model.train();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  int epochs = 8, hidden = 256, layers = 1, embedding = 32, seq_len = 100, batch_size = 32, seed = 1, limit = 0;
  int sample_length = 400;
  double lr = 3e-3, clip = 1.0, dropout = 0.0, temperature = 0.7, valid_fraction = 0.1;
  std::string data = "/usr/share/dictd/devil.dict.dz", out_dir = "char_lm_out", prime = "LOVE, n.";
  examples::Flags flags("char_lm",
                        "Trains a character-level LSTM language model on The Devil's Dictionary (Debian: dict-devil)\n"
                        "with truncated backpropagation through time, reports validation bits per character per\n"
                        "epoch and samples text. Writes the model, a CSV and a PNG of the curves into --out.");
  flags.add("epochs", epochs, "passes over the training text")
      .add("hidden", hidden, "LSTM hidden units")
      .add("layers", layers, "stacked LSTM layers")
      .add("embedding", embedding, "character embedding size")
      .add("seq-len", seq_len, "characters per chunk of truncated backpropagation through time")
      .add("batch-size", batch_size, "parallel streams of text")
      .add("lr", lr, "Adam's learning rate (cosine-annealed over the epochs)")
      .add("clip", clip, "clip the gradients' global norm to this (0: off)")
      .add("dropout", dropout, "dropout between stacked LSTM layers")
      .add("temperature", temperature, "sampling temperature: lower is more conservative, 1 samples the model as is")
      .add("sample-length", sample_length, "characters to sample after training")
      .add("prime", prime, "text the sample starts from")
      .add("valid-fraction", valid_fraction, "the text's last part held out for validation")
      .add("limit", limit, "use only the first N characters of the text (0: all), for a quick run")
      .add("seed", seed, "seed for initialisation and sampling")
      .add("data", data, "the text: gzip or plain")
      .add("out", out_dir, "folder for the model (.npz), the metrics (.csv), the plot (.png) and the sample");
  flags.parse_or_exit(argc, argv);

  try {
    if (epochs < 1 || hidden < 1 || layers < 1 || embedding < 1 || seq_len < 1 || batch_size < 1)
      throw std::invalid_argument("--epochs, --hidden, --layers, --embedding, --seq-len and --batch-size must be positive");
    if (!(temperature > 0)) throw std::invalid_argument("--temperature must be positive");
    tg::manual_seed(static_cast<std::uint64_t>(seed));
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::string text = read_text(data);
    if (limit > 0 && static_cast<std::size_t>(limit) < text.size()) text.resize(static_cast<std::size_t>(limit));
    const Vocabulary vocab(text);
    const auto codes = vocab.encode(text);
    const auto split_at = static_cast<std::size_t>(double(codes.size()) * (1 - valid_fraction));
    const Streams train({codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(split_at)}, std::size_t(batch_size));
    const Streams valid({codes.begin() + static_cast<std::ptrdiff_t>(split_at), codes.end()}, 1);
    if (train.length < 2 || valid.length < 2) throw std::invalid_argument("the text is too short for this --batch-size");

    CharModel model(vocab.size(), std::size_t(embedding), std::size_t(hidden), std::size_t(layers), dropout);
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = lr});
    tg::optim::CosineAnnealingLR schedule(optimizer, epochs);
    const std::size_t chunks = (train.length - 2) / std::size_t(seq_len) + 1;
    std::cout << "The Devil's Dictionary: " << text.size() << " characters (" << vocab.size() << " distinct), "
              << split_at << " for training in " << batch_size << " streams, " << codes.size() - split_at
              << " for validation; " << chunks << " chunks of " << seq_len << " steps per epoch\n"
              << model << "\nAdam lr " << lr << " (cosine annealing), gradient norm clipped to " << clip << "\n\n";

    std::filesystem::create_directories(out_dir);
    examples::CsvWriter csv(out_dir + "/metrics.csv", {"epoch", "train_loss_bpc", "valid_loss_bpc", "seconds"});
    const double initial = bits_per_char(model, valid, std::size_t(seq_len));
    std::printf("before training: validation %.3f bits per character (uniform over the vocabulary: %.3f)\n", initial,
                std::log2(double(vocab.size())));
    double valid_bpc = initial, total_seconds = 0;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      examples::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(epochs), chunks);
      tg::nn::LSTMState<float> state;
      double nats = 0;
      std::size_t seen = 0, done = 0;
      for (std::size_t at = 0; at + 1 < train.length; at += std::size_t(seq_len)) {
        const std::size_t steps = std::min(std::size_t(seq_len), train.length - 1 - at);
        auto [x, y] = train.chunk(at, steps);
        auto r = model.forward(x, state);
        state = tg::nn::detach_state(r.state);  // truncated BPTT: the next chunk's backward stops here
        const auto v = static_cast<std::int64_t>(vocab.size());
        tg::Var loss = tg::nn::cross_entropy(tg::reshape(r.output, {-1, v}), y);
        optimizer.zero_grad();
        loss.backward();
        if (clip > 0) tg::optim::clip_grad_norm(model.parameters(), clip);
        optimizer.step();
        nats += loss.item() * double(y.size());
        seen += y.size();
        bar.update(++done, nats / double(seen) / std::log(2.0), seen);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      total_seconds += seconds;
      const double train_bpc = nats / double(seen) / std::log(2.0);
      valid_bpc = bits_per_char(model, valid, std::size_t(seq_len));
      char summary[160];
      std::snprintf(summary, sizeof summary, "train %.3f bpc | validation %.3f bpc | %.1f s, %.0f chars/s", train_bpc,
                    valid_bpc, seconds, double(seen) / seconds);
      bar.finish(summary);
      csv.row({double(epoch), train_bpc, valid_bpc, seconds});
      schedule.step();
    }

    const std::string text_sample = sample(model, vocab, prime, std::size_t(sample_length), temperature, rng);
    std::cout << "\nsample (temperature " << temperature << "):\n" << text_sample << "\n\n";
    std::ofstream(out_dir + "/sample.txt") << text_sample << "\n";
    std::printf("validation %.3f -> %.3f bits per character in %d epochs (%.1f s per epoch on average)\n", initial,
                valid_bpc, epochs, total_seconds / epochs);
    tg::nn::save(model, out_dir + "/char_lm.npz");
    std::cout << "model saved to " << out_dir << "/char_lm.npz, sample to " << out_dir << "/sample.txt, metrics in "
              << csv.path() << "\n";
    if (examples::plot_metrics(csv.path(), out_dir + "/curves.png", "tapegrad character LSTM on The Devil's Dictionary (bits per character)"))
      std::cout << "curves plotted in " << out_dir << "/curves.png\n";
    if (!(valid_bpc < initial)) {
      std::fprintf(stderr, "validation bits per character did not fall: %.3f -> %.3f\n", initial, valid_bpc);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "char_lm: %s\n", e.what());
    return 1;
  }
}
