#pragma once
// Collective operations on tapegrad values: make every rank's model equal to rank 0's, and
// combine metrics (losses, counts) over the ranks.
#include <span>

#include "../../autograd/core/variable.hpp"
#include "../module.hpp"

namespace tg::dist {

/// Every rank's value becomes root's (in place: the node stays, its version is bumped).
/// The shapes must agree on every rank.
template <class T>
void broadcast(Variable<T>& value, int root = 0);

/// Every rank's parameters and buffers become root's, so that all ranks start identical
/// (differently seeded initialisations included). Names and shapes are compared with root's
/// first: a model that differs is a tg::Error on every rank, naming the first difference.
template <class T>
void broadcast(nn::Module<T>& module, int root = 0);

/// values[i] becomes the sum of values[i] over all ranks, on every rank.
void all_reduce_sum(std::span<double> values);
/// The sum of value over all ranks, on every rank.
double all_reduce_sum(double value);
/// The mean of value over all ranks (each rank's number counts once), on every rank.
double all_reduce_mean(double value);
/// A metric over the examples of all ranks from each rank's sum and count, on every rank:
/// (sum over ranks of sum) / (sum over ranks of count). A mean loss or an accuracy over shards
/// of different sizes comes out as if one process had seen every example.
double mean_over_ranks(double sum, double count);

extern template void broadcast(Variable<float>&, int);
extern template void broadcast(Variable<double>&, int);
extern template void broadcast(nn::Module<float>&, int);
extern template void broadcast(nn::Module<double>&, int);

}  // namespace tg::dist
