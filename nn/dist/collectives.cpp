// Broadcasts of values and whole modules, and sums of metrics over the ranks.
#include "collectives.hpp"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "detail/mpi.hpp"
#include "dist.hpp"
#include "environment.hpp"

namespace tg::dist {

namespace {

void check_root(const char* op, int root) {
  const int n = world_size();
  TG_CHECK(root >= 0 && root < n, op,
           "root " + std::to_string(root) + " is out of range for " + std::to_string(n) + " ranks (valid: 0 to " +
               std::to_string(n - 1) + ")");
}

/// MPI counts are int: a buffer larger than INT_MAX elements goes in pieces.
template <class T, class Call>
void in_chunks(T* data, std::size_t n, Call&& call) {
  constexpr std::size_t chunk = INT_MAX;
  for (std::size_t start = 0; start < n; start += chunk) call(data + start, static_cast<int>(std::min(chunk, n - start)));
}

/// Root's text on every rank (its length first).
std::string broadcast_text(std::string text, int root, const char* op) {
  unsigned long long length = text.size();
  detail::check_mpi(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD), op, "MPI_Bcast");
  text.resize(length);
  detail::check_mpi(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD), op, "MPI_Bcast");
  return text;
}

/// True on every rank when `mismatch` is true on any.
bool any_rank(bool mismatch, const char* op) {
  int local = mismatch, any = 0;
  detail::check_mpi(MPI_Allreduce(&local, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), op, "MPI_Allreduce");
  return any != 0;
}

}  // namespace

namespace detail {
void require_same_layout(const std::vector<std::string>& lines, int root, const char* op, const char* what) {
  std::string joined;
  for (const auto& line : lines) joined += line + "\n";
  const std::string roots = broadcast_text(joined, root, op);
  std::string difference;
  if (roots != joined) {
    std::vector<std::string> theirs;
    for (std::size_t start = 0, end; (end = roots.find('\n', start)) != std::string::npos; start = end + 1)
      theirs.push_back(roots.substr(start, end - start));
    std::size_t i = 0;
    while (i < lines.size() && i < theirs.size() && lines[i] == theirs[i]) ++i;
    difference = "rank " + std::to_string(rank()) + "'s " + what + " differs from root rank " + std::to_string(root) +
                 "'s at entry " + std::to_string(i) + ": " + (i < lines.size() ? lines[i] : "nothing") + " here, " +
                 (i < theirs.size() ? theirs[i] : "nothing") + " on the root (" + std::to_string(lines.size()) +
                 " entries here, " + std::to_string(theirs.size()) + " there)";
  }
  if (any_rank(!difference.empty(), op))
    throw Error(std::string(op) + ": " +
                (difference.empty() ? "the " + std::string(what) + " differs on another rank (see its message)" : difference));
}
}  // namespace detail

namespace {

template <class T>
void broadcast_values(Variable<T>& value, int root, const char* op) {
  auto& array = value.mutable_value();
  in_chunks(array.data(), array.size(), [&](T* data, int count) {
    detail::check_mpi(MPI_Bcast(data, count, detail::datatype<T>(), root, MPI_COMM_WORLD), op, "MPI_Bcast");
  });
}

/// One line per entry, "name [shape]", in the module's order.
template <class T>
std::vector<std::string> layout(const typename nn::Module<T>::NamedVariables& entries, const char* kind) {
  std::vector<std::string> lines;
  for (const auto& [name, v] : entries) lines.push_back(std::string(kind) + " '" + name + "' " + shape_str(v.shape()));
  return lines;
}

}  // namespace

template <class T>
void broadcast(Variable<T>& value, int root) {
  constexpr const char* op = "tg::dist::broadcast";
  detail::require_initialized(op);
  check_root(op, root);
  TG_CHECK(value.defined(), op, "the variable is undefined");
  detail::require_same_layout({"shape " + shape_str(value.shape())}, root, op, "variable");
  broadcast_values(value, root, op);
}

template <class T>
void broadcast(nn::Module<T>& module, int root) {
  constexpr const char* op = "tg::dist::broadcast";
  detail::require_initialized(op);
  check_root(op, root);
  const auto parameters = module.named_parameters();
  const auto buffers = module.named_buffers();
  std::vector<std::string> lines = layout<T>(parameters, "parameter");
  for (auto& line : layout<T>(buffers, "buffer")) lines.push_back(std::move(line));
  detail::require_same_layout(lines, root, op, "module");
  for (auto [name, v] : parameters) broadcast_values(v, root, op);
  for (auto [name, v] : buffers) broadcast_values(v, root, op);
}

void all_reduce_sum(std::span<double> values) {
  constexpr const char* op = "tg::dist::all_reduce_sum";
  detail::require_initialized(op);
  in_chunks(values.data(), values.size(), [&](double* data, int count) {
    detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), op, "MPI_Allreduce");
  });
}

double all_reduce_sum(double value) {
  all_reduce_sum(std::span<double>(&value, 1));
  return value;
}

double all_reduce_mean(double value) { return all_reduce_sum(value) / world_size(); }

double mean_over_ranks(double sum, double count) {
  double both[2] = {sum, count};
  all_reduce_sum(both);
  TG_CHECK(both[1] != 0, "tg::dist::mean_over_ranks", "the counts sum to 0 over all ranks: no mean to take");
  return both[0] / both[1];
}

data::DistributedSampler shard_sampler(std::size_t dataset_size, std::uint64_t seed, bool shuffle, bool drop_last) {
  return data::DistributedSampler(dataset_size, {.rank = static_cast<std::size_t>(rank()),
                                                 .world_size = static_cast<std::size_t>(world_size()),
                                                 .shuffle = shuffle,
                                                 .seed = seed,
                                                 .drop_last = drop_last});
}

template void broadcast(Variable<float>&, int);
template void broadcast(Variable<double>&, int);
template void broadcast(nn::Module<float>&, int);
template void broadcast(nn::Module<double>&, int);

}  // namespace tg::dist
