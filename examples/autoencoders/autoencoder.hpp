#pragma once
// A one-hidden-layer auto-encoder on [0, 1] pixels and the contractive penalty of its encoder,
// three ways: the Hutchinson estimate used in training, the exact value by autodiff (one
// tg::grad per hidden unit), and the closed form for a sigmoid encoder. Header-only example
// code, so tests/examples/test_examples_autoencoders.cpp checks the three against each other.
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace autoencoders {

/// h = sigmoid(W x + b), x̂ = sigmoid(W' h + c), with W' its own parameter (untied: the decoder
/// may then scale its filters freely, which the contractive penalty on W alone would otherwise
/// fight; Rifai et al. tie them, the penalty is the same formula either way).
template <class T = float>
class AutoEncoder : public tg::nn::Module<T> {
 public:
  AutoEncoder(std::size_t visible, std::size_t hidden) {
    encoder = this->register_module("encoder", std::make_shared<tg::nn::Linear<T>>(visible, hidden));
    decoder = this->register_module("decoder", std::make_shared<tg::nn::Linear<T>>(hidden, visible));
  }

  /// The code h = sigmoid(W x + b), [batch, hidden].
  tg::Variable<T> encode(const tg::Variable<T>& x) { return tg::sigmoid(encoder->forward(x)); }
  /// The decoder's pre-activation W' h + c: the loss takes logits (a stable cross-entropy).
  tg::Variable<T> decode_logits(const tg::Variable<T>& h) { return decoder->forward(h); }
  /// The reconstruction x̂ = sigmoid(W' h + c), in (0, 1).
  tg::Variable<T> forward(const tg::Variable<T>& x) override { return tg::sigmoid(decode_logits(encode(x))); }
  std::string type_name() const override { return "AutoEncoder"; }

  std::shared_ptr<tg::nn::Linear<T>> encoder, decoder;
};

/// Σ_b ||J_bᵀ r_b||², J_b = ∂h_b/∂x_b [hidden, visible], for h = encode(x) and a probe r of h's
/// shape. One tg::grad: d(Σ h·r)/dx has row b equal to J_bᵀ r_b because sample b's code depends
/// on sample b's input only. Recorded (create_graph), so the result is differentiable in the
/// parameters: training through it is the second-order graph. x must require grad.
template <class T>
tg::Variable<T> jacobian_probe(const tg::Variable<T>& h, const tg::Variable<T>& x, const tg::Variable<T>& r) {
  TG_CHECK(h.shape() == r.shape(), "jacobian_probe",
           "code " + tg::shape_str(h.shape()) + " and probe " + tg::shape_str(r.shape()) + " differ in shape");
  TG_CHECK(x.requires_grad(), "jacobian_probe",
           "the input " + tg::shape_str(x.shape()) + " must require grad to be differentiated through");
  using V = std::vector<tg::Variable<T>>;
  const tg::Variable<T> jt_r = tg::grad(V{h}, V{x}, V{r}, {.create_graph = true, .retain_graph = true})[0];
  return tg::sum(jt_r * jt_r);
}

/// Rademacher probes (±1, each with probability ½) of the given shape, from tg's generator.
template <class T>
tg::Variable<T> rademacher(const tg::Shape& shape) {
  xt::xarray<T> r = xt::xarray<T>::from_shape(shape);
  std::bernoulli_distribution coin(0.5);
  for (auto& v : r) v = coin(tg::generator()) ? T(1) : T(-1);
  return tg::Variable<T>(std::move(r), false);
}

/// Hutchinson's estimate of the contractive penalty Σ_b ||J_b||_F², the mean of jacobian_probe over
/// `probes` Rademacher draws: unbiased because E[r rᵀ] = I gives E||Jᵀr||² = tr(J Jᵀ) = ||J||_F².
/// Why this and not the exact sum: the exact one costs a tg::grad per hidden unit (256 double
/// backward passes per step), this costs one per probe. Why Rademacher and not N(0, I): its
/// variance 2 Σ_{j≠k} (J Jᵀ)_jk² lacks the diagonal terms Gaussian probes add (2 ||J Jᵀ||_F²),
/// and SGD only needs the gradient to be unbiased.
template <class T>
tg::Variable<T> contractive_penalty_estimate(const tg::Variable<T>& h, const tg::Variable<T>& x, int probes = 1) {
  TG_CHECK(probes >= 1, "contractive_penalty_estimate", "probes must be at least 1, got " + std::to_string(probes));
  tg::Variable<T> total = jacobian_probe(h, x, rademacher<T>(h.shape()));
  for (int k = 1; k < probes; ++k) total = total + jacobian_probe(h, x, rademacher<T>(h.shape()));
  return total * T(1.0 / probes);
}

/// The exact contractive penalty Σ_b ||J_b||_F² by autodiff alone: jacobian_probe over the
/// standard basis e_1..e_H of the code (the estimator's expectation, summed over an orthonormal
/// basis), one tg::grad per hidden unit. Differentiable; for tests and small encoders.
template <class T>
tg::Variable<T> contractive_penalty_exact(const tg::Variable<T>& h, const tg::Variable<T>& x) {
  TG_CHECK(h.shape().size() == 2, "contractive_penalty_exact",
           "code " + tg::shape_str(h.shape()) + " is not [batch, hidden]");
  tg::Variable<T> total;
  for (std::size_t j = 0; j < h.shape()[1]; ++j) {
    xt::xarray<T> e = xt::zeros<T>(h.shape());
    for (std::size_t b = 0; b < h.shape()[0]; ++b) e(b, j) = T(1);
    tg::Variable<T> term = jacobian_probe(h, x, tg::Variable<T>(std::move(e), false));
    total = j == 0 ? term : total + term;
  }
  return total;
}

/// ||J_b||_F² per sample, [batch], in closed form for a sigmoid encoder h = sigmoid(W x + b):
/// ∂h_j/∂x_i = h_j (1 − h_j) W_ji, so ||J_b||_F² = Σ_j h_bj² (1 − h_bj)² Σ_i W_ji² (the lecture's
/// formula). Written with ops, so it has a gradient too.
template <class T>
tg::Variable<T> jacobian_norm_sq_closed_form(const tg::Variable<T>& h, const tg::Variable<T>& weight) {
  TG_CHECK(h.shape().size() == 2 && weight.shape().size() == 2 && h.shape()[1] == weight.shape()[0],
           "jacobian_norm_sq_closed_form",
           "code " + tg::shape_str(h.shape()) + " and weight " + tg::shape_str(weight.shape()) +
               ": expected [batch, hidden] and [hidden, visible]");
  const tg::Variable<T> slope = h * (T(1) - h);
  return tg::matmul(slope * slope, tg::sum(weight * weight, {1}));
}

/// The closed-form contractive penalty Σ_b ||J_b||_F².
template <class T>
tg::Variable<T> contractive_penalty_closed_form(const tg::Variable<T>& h, const tg::Variable<T>& weight) {
  return tg::sum(jacobian_norm_sq_closed_form(h, weight));
}

}  // namespace autoencoders
