#pragma once
// Gradient clipping and the max-norm weight constraint. All edit arrays in place and record
// nothing on the tape.
#include <cstdint>
#include <limits>
#include <vector>

#include "../autograd/core/variable.hpp"

namespace tg::optim {

/// Scales the gradients of params together so that their total norm (the p-norm of all
/// gradient entries; p = infinity: the largest |g|) is at most max_norm, as PyTorch's
/// clip_grad_norm_: with c = max_norm / (total + 1e-6), every gradient is multiplied by c when
/// c < 1. Parameters without a gradient are skipped. Returns the total norm before clipping.
/// error_if_nonfinite: throw tg::Error when the total norm is NaN or infinite (gradients are
/// then left as they are); otherwise they are scaled by the resulting NaN/0, as PyTorch does.
template <class T>
double clip_grad_norm(const std::vector<Variable<T>>& params, double max_norm, double norm_type = 2,
                      bool error_if_nonfinite = false);

/// Clamps every gradient entry into [-clip_value, clip_value].
template <class T>
void clip_grad_value(const std::vector<Variable<T>>& params, double clip_value);

/// Max-norm constraint (Srivastava et al. 2014) on weights, in place: every slice of a
/// parameter along `axis` (w[i] for axis 0, the i-th row of a matrix) whose L2 norm exceeds
/// max_norm is scaled by max_norm / (norm + 1e-7), as torch.renorm. With a Linear weight of
/// shape [out, in], axis 0 bounds each unit's incoming weight vector.
template <class T>
void max_norm_constraint(const std::vector<Variable<T>>& params, double max_norm, std::int64_t axis = 0);

#define TG_CLIP_EXTERN(T)                                                                                \
  extern template double clip_grad_norm(const std::vector<Variable<T>>&, double, double, bool);          \
  extern template void clip_grad_value(const std::vector<Variable<T>>&, double);                        \
  extern template void max_norm_constraint(const std::vector<Variable<T>>&, double, std::int64_t);
TG_CLIP_EXTERN(float)
TG_CLIP_EXTERN(double)
#undef TG_CLIP_EXTERN

}  // namespace tg::optim
