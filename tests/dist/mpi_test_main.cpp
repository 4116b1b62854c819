// doctest's main for suites that run as several MPI processes (mpirun -np 2 test_dist): MPI
// starts before the tests and ends after them, and every rank exits with the same status, so a
// check that fails on any rank fails the test.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <tapegrad/nn/dist/dist.hpp>

int main(int argc, char** argv) {
  tg::dist::Environment environment(argc, argv);
  doctest::Context context(argc, argv);
  if (tg::dist::rank() != 0) context.setOption("no-version", true);
  const int failed = context.run();
  const double ranks_failed = tg::dist::all_reduce_sum(failed != 0 ? 1.0 : 0.0);
  if (tg::dist::is_root() && ranks_failed > 0)
    std::printf("%g of %d ranks failed\n", ranks_failed, tg::dist::world_size());
  return ranks_failed > 0 ? 1 : 0;
}
