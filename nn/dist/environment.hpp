#pragma once
// The MPI process group of a data-parallel run: start and end (RAII), who am I, how many are
// we, wait for all; and ending every process when one fails, so that none hangs waiting for it.
#include <cstdio>
#include <exception>
#include <string>

namespace tg::dist {

/// Starts MPI for the program's lifetime (MPI_Init_thread) and ends it (MPI_Finalize).
/// Create one at the top of main, before any other tg::dist call. It also installs a
/// std::terminate handler that prints the uncaught exception with the rank and ends every
/// rank (abort_all): an exception nobody catches never leaves the other ranks waiting.
/// If MPI is already initialised, it neither initialises nor finalises it.
class Environment {
 public:
  Environment();
  Environment(int& argc, char**& argv);
  /// MPI_Finalize; but when an exception is leaving the Environment's scope, abort_all instead
  /// (the other ranks may be waiting in a collective this rank will never join).
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  bool owns_ = false;
  int uncaught_at_start_ = 0;
};

/// This process's number, 0 .. world_size() - 1 (MPI_COMM_WORLD).
int rank();
/// How many processes run the program.
int world_size();
/// Rank 0: the one that prints, writes checkpoints and logs.
inline bool is_root() { return rank() == 0; }
/// Returns when every rank has called it.
void barrier();

/// Prints "tg::dist: rank R of N failed: <what>" to stderr, then ends every rank of the job
/// (MPI_Abort, exit status 1). Without MPI running, prints and exits with status 1.
[[noreturn]] void abort_all(const std::string& what);

/// Runs body() and returns its result; an exception that escapes it ends all ranks with its
/// message (abort_all) instead of leaving the other ranks waiting in a collective:
///   int main(int argc, char** argv) {
///     tg::dist::Environment env(argc, argv);
///     return tg::dist::run_or_abort([&] { ...train...; return 0; });
///   }
template <class F>
auto run_or_abort(F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    abort_all(e.what());
  } catch (...) {
    abort_all("an exception not derived from std::exception");
  }
}

}  // namespace tg::dist
