// A small encoder-decoder transformer (Vaswani et al. 2017) that learns to reverse digit
// sequences of variable length: "3 1 4 1 5" -> "5 1 4 1 3". Token embeddings (N(0, 1), not
// scaled up by sqrt(d_model), so the positions are not drowned out) plus sinusoidal positions, a TransformerEncoder over the source, a
// TransformerDecoder with a causal mask over the shifted target (teacher forcing), padding
// masked by key_padding_mask and ignored by the loss. Evaluation decodes greedily, one token at
// a time, on held-out sequences (never seen in training) and reports token and whole-sequence
// accuracy; a few decodings are printed.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "../common/flags.hpp"
#include "../common/progress.hpp"

namespace {

// tokens: the digits 0-9, then begin, end and padding
constexpr tg::Index bos = 10, eos = 11, pad = 12, vocabulary = 13;

using Sequence = std::vector<tg::Index>;

/// Random digit sequences with lengths in [min_length, max_length].
class SequenceSource {
 public:
  SequenceSource(std::uint64_t seed, std::size_t min_length, std::size_t max_length)
      : rng_(seed), length_(min_length, max_length), digit_(0, 9) {}
  Sequence next() {
    Sequence s(length_(rng_));
    for (auto& d : s) d = digit_(rng_);
    return s;
  }

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::size_t> length_;
  std::uniform_int_distribution<tg::Index> digit_;
};

/// A batch of sequences as [B, width] token ids, padded with pad, and the padding mask [B, width]
/// (1 = padding, MultiheadAttention's boolean convention).
struct Padded {
  tg::IndexArray tokens;
  tg::Var padding;
};

Padded pad_batch(const std::vector<Sequence>& rows) {
  std::size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.size());
  Padded out{tg::IndexArray(xt::xarray<tg::Index>::from_shape({rows.size(), width})), tg::Var()};
  xt::xarray<float> padding = xt::zeros<float>({rows.size(), width});
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < width; ++j) {
      out.tokens(i, j) = j < rows[i].size() ? rows[i][j] : pad;
      padding(i, j) = j < rows[i].size() ? 0.0f : 1.0f;
    }
  out.padding = tg::Var(std::move(padding));
  return out;
}

struct ModelOptions {
  std::size_t d_model = 64, heads = 4, layers = 2, feedforward = 128, max_length = 64;
  double dropout = 0.1;
};

class Seq2Seq : public tg::nn::Module<float> {
 public:
  explicit Seq2Seq(const ModelOptions& o) {
    const tg::nn::TransformerLayerOptions layer{.dim_feedforward = o.feedforward, .dropout = o.dropout, .batch_first = true};
    embedding = register_module("embedding", std::make_shared<tg::nn::Embedding<float>>(vocabulary, o.d_model));
    positions = register_module("positions", std::make_shared<tg::nn::SinusoidalPositionalEncoding<float>>(
                                                 o.d_model, o.max_length, tg::nn::PositionalEncodingOptions{.dropout = o.dropout}));
    encoder = register_module("encoder", std::make_shared<tg::nn::TransformerEncoder<float>>(o.d_model, o.heads, o.layers, layer));
    decoder = register_module("decoder", std::make_shared<tg::nn::TransformerDecoder<float>>(o.d_model, o.heads, o.layers, layer));
    generator = register_module("generator", std::make_shared<tg::nn::Linear<float>>(o.d_model, vocabulary));
  }

  tg::Var embed(const tg::IndexArray& tokens) { return positions->forward(embedding->forward(tokens)); }

  tg::Var encode(const Padded& source) {
    return encoder->forward(embed(source.tokens), {.src_key_padding_mask = source.padding});
  }

  /// Logits [B, T, vocabulary] for the target prefix (causal: position t sees 0..t).
  tg::Var decode(const tg::IndexArray& prefix, const tg::Var& target_padding, const tg::Var& memory, const tg::Var& memory_padding) {
    return generator->forward(decoder->forward(embed(prefix), memory,
                                               {.tgt_key_padding_mask = target_padding,
                                                .memory_key_padding_mask = memory_padding,
                                                .tgt_is_causal = true}));
  }

  std::shared_ptr<tg::nn::Embedding<float>> embedding;
  std::shared_ptr<tg::nn::SinusoidalPositionalEncoding<float>> positions;
  std::shared_ptr<tg::nn::TransformerEncoder<float>> encoder;
  std::shared_ptr<tg::nn::TransformerDecoder<float>> decoder;
  std::shared_ptr<tg::nn::Linear<float>> generator;
};

/// Teacher forcing: decoder input = bos + reversed, expected output = reversed + eos.
struct TrainingBatch {
  Padded source, decoder_input;
  tg::IndexArray expected;  // [B * T], pad where nothing is expected
};

TrainingBatch make_batch(const std::vector<Sequence>& sources) {
  std::vector<Sequence> inputs, outputs;
  for (const auto& s : sources) {
    Sequence reversed(s.rbegin(), s.rend());
    Sequence in{bos};
    in.insert(in.end(), reversed.begin(), reversed.end());
    reversed.push_back(eos);
    inputs.push_back(std::move(in));
    outputs.push_back(std::move(reversed));
  }
  TrainingBatch b{pad_batch(sources), pad_batch(inputs), {}};
  Padded expected = pad_batch(outputs);
  b.expected = expected.tokens;
  b.expected.reshape({expected.tokens.size()});
  return b;
}

/// Greedy decoding of a batch: at most longest + 1 steps, each appending the argmax token.
std::vector<Sequence> greedy_decode(Seq2Seq& model, const std::vector<Sequence>& sources) {
  tg::NoGradGuard no_grad;
  const Padded source = pad_batch(sources);
  const tg::Var memory = model.encode(source);
  const std::size_t n = sources.size(), steps = source.tokens.shape()[1] + 1;
  std::vector<Sequence> prefix(n, Sequence{bos}), result(n);
  std::vector<bool> done(n, false);
  for (std::size_t t = 0; t < steps; ++t) {
    const Padded in = pad_batch(prefix);  // all the same length: no padding
    const tg::Var logits = model.decode(in.tokens, in.padding, memory, source.padding);  // [B, t+1, V]
    const tg::IndexArray next = tg::argmax(tg::narrow(logits, 1, static_cast<std::int64_t>(t), 1), -1);  // [B, 1]
    for (std::size_t i = 0; i < n; ++i) {
      prefix[i].push_back(next(i, 0));
      if (!done[i]) {
        if (next(i, 0) == eos) done[i] = true;
        else result[i].push_back(next(i, 0));
      }
    }
  }
  return result;
}

struct Accuracy {
  double token = 0, sequence = 0;
};

/// Token accuracy: the fraction of expected tokens (digits and the final end) decoded right, by
/// position; sequence accuracy: the fraction decoded exactly.
Accuracy evaluate(Seq2Seq& model, const std::vector<Sequence>& sources, std::size_t batch_size) {
  model.eval();
  std::size_t tokens = 0, tokens_right = 0, sequences_right = 0;
  for (std::size_t start = 0; start < sources.size(); start += batch_size) {
    std::vector<Sequence> batch(sources.begin() + static_cast<std::ptrdiff_t>(start),
                                sources.begin() + static_cast<std::ptrdiff_t>(std::min(start + batch_size, sources.size())));
    const auto decoded = greedy_decode(model, batch);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Sequence expected(batch[i].rbegin(), batch[i].rend());
      expected.push_back(eos);
      Sequence got = decoded[i];
      got.push_back(eos);  // where it stopped (or after its last step)
      for (std::size_t j = 0; j < expected.size(); ++j) tokens_right += j < got.size() && got[j] == expected[j];
      tokens += expected.size();
      sequences_right += decoded[i] == Sequence(expected.begin(), expected.end() - 1);
    }
  }
  model.train();
  return {static_cast<double>(tokens_right) / static_cast<double>(tokens),
          static_cast<double>(sequences_right) / static_cast<double>(sources.size())};
}

std::string text(const Sequence& s) {
  std::string out;
  for (auto t : s) out += (out.empty() ? "" : " ") + std::to_string(t);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  int steps = 800, batch_size = 64, seed = 1, min_length = 2, max_length = 12, test_size = 1000, d_model = 64, heads = 4,
      layers = 2, feedforward = 128;
  double lr = 1e-3, dropout = 0.0, min_token_accuracy = 0, min_sequence_accuracy = 0;
  examples::Flags flags("transformer_reverse",
                        "Trains an encoder-decoder transformer to reverse digit sequences of variable length and\n"
                        "reports greedy-decoding token and whole-sequence accuracy on held-out sequences.");
  flags.add("steps", steps, "gradient steps (fresh random batches)")
      .add("batch-size", batch_size, "sequences per step")
      .add("lr", lr, "Adam's peak learning rate (linear warm-up over 5% of the steps, then cosine to 0)")
      .add("min-length", min_length, "shortest sequence")
      .add("max-length", max_length, "longest sequence")
      .add("test-size", test_size, "held-out sequences for the final evaluation")
      .add("d-model", d_model, "token width")
      .add("heads", heads, "attention heads")
      .add("layers", layers, "encoder and decoder layers (each)")
      .add("feedforward", feedforward, "hidden width of each feed-forward block")
      .add("dropout", dropout, "dropout everywhere")
      .add("seed", seed, "seed for initialisation, dropout and the sequences")
      .add("min-token-accuracy", min_token_accuracy, "exit 1 if the held-out token accuracy is below this")
      .add("min-sequence-accuracy", min_sequence_accuracy, "exit 1 if the held-out sequence accuracy is below this");
  flags.parse_or_exit(argc, argv);

  try {
    if (steps < 1 || batch_size < 1 || min_length < 1 || max_length < min_length || test_size < 1)
      throw std::invalid_argument("--steps, --batch-size, --test-size must be positive and 1 <= --min-length <= --max-length");
    tg::manual_seed(static_cast<std::uint64_t>(seed));
    Seq2Seq model({.d_model = static_cast<std::size_t>(d_model), .heads = static_cast<std::size_t>(heads),
                   .layers = static_cast<std::size_t>(layers), .feedforward = static_cast<std::size_t>(feedforward),
                   .max_length = static_cast<std::size_t>(max_length) + 2, .dropout = dropout});
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = lr, .betas = {0.9, 0.98}});

    // held-out sequences, kept out of training
    SequenceSource test_source(static_cast<std::uint64_t>(seed) + 1000, min_length, max_length);
    std::vector<Sequence> test_set;
    std::set<Sequence> held_out;
    while (test_set.size() < static_cast<std::size_t>(test_size)) {
      Sequence s = test_source.next();
      if (held_out.insert(s).second) test_set.push_back(std::move(s));
    }
    std::cout << "reverse digit sequences of length " << min_length << "-" << max_length << "; " << steps
              << " steps of " << batch_size << " fresh sequences, " << test_size << " held-out ones\n"
              << model << "\n";

    SequenceSource train_source(static_cast<std::uint64_t>(seed), min_length, max_length);
    std::size_t skipped = 0;
    const auto start = std::chrono::steady_clock::now();
    const int warmup = std::max(1, steps / 20);
    examples::ProgressBar bar("training", static_cast<std::size_t>(steps));
    double recent_loss = 0, first_loss = 0;
    for (int step = 1; step <= steps; ++step) {
      std::vector<Sequence> sources;
      while (sources.size() < static_cast<std::size_t>(batch_size)) {
        Sequence s = train_source.next();
        if (held_out.count(s)) ++skipped;
        else sources.push_back(std::move(s));
      }
      const TrainingBatch batch = make_batch(sources);
      const double progress = static_cast<double>(step - warmup) / std::max(1, steps - warmup);
      optimizer.set_lr(0, step <= warmup ? lr * step / warmup : lr * 0.5 * (1 + std::cos(3.14159265358979 * progress)));
      tg::Var memory = model.encode(batch.source);
      tg::Var logits = model.decode(batch.decoder_input.tokens, batch.decoder_input.padding, memory, batch.source.padding);
      tg::Var loss = tg::nn::cross_entropy(tg::reshape(logits, {-1, vocabulary}), batch.expected, {.ignore_index = pad});
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      if (step == 1) first_loss = loss.item();
      recent_loss = step == 1 ? loss.item() : 0.98 * recent_loss + 0.02 * loss.item();
      bar.update(static_cast<std::size_t>(step), recent_loss, static_cast<std::size_t>(step * batch_size));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char summary[160];
    std::snprintf(summary, sizeof summary, "loss %.4f, %.1f s (%.1f ms per step), %zu held-out draws skipped", recent_loss,
                  seconds, 1000 * seconds / steps, skipped);
    bar.finish(summary);

    const Accuracy accuracy = evaluate(model, test_set, 250);
    std::cout << "\ngreedy decoding of held-out sequences:\n";
    std::vector<Sequence> shown(test_set.begin(), test_set.begin() + std::min<std::ptrdiff_t>(6, test_size));
    const auto decoded = greedy_decode(model, shown);
    for (std::size_t i = 0; i < shown.size(); ++i) {
      const Sequence expected(shown[i].rbegin(), shown[i].rend());
      std::printf("  %-26s -> %-26s %s\n", text(shown[i]).c_str(), text(decoded[i]).c_str(), decoded[i] == expected ? "ok" : "WRONG");
    }
    std::printf("\nheld-out accuracy: %.2f%% of tokens, %.2f%% of whole sequences (%d sequences, training %.1f s)\n",
                100 * accuracy.token, 100 * accuracy.sequence, test_size, seconds);
    if (!(recent_loss < first_loss)) {
      std::fprintf(stderr, "the training loss did not fall: first step %.4f, last steps %.4f\n", first_loss, recent_loss);
      return 1;
    }
    if (accuracy.token < min_token_accuracy || accuracy.sequence < min_sequence_accuracy) {
      std::fprintf(stderr, "below the required accuracy (tokens %.4f < %.4f or sequences %.4f < %.4f)\n", accuracy.token,
                   min_token_accuracy, accuracy.sequence, min_sequence_accuracy);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transformer_reverse: %s\n", e.what());
    return 1;
  }
}
