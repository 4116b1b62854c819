// MPI start-up and shutdown, ranks, barrier, and ending every rank when one fails.
#include "environment.hpp"

#include <cstdlib>
#include <exception>

#include "detail/mpi.hpp"

namespace tg::dist {

namespace detail {
void require_initialized(const char* op) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    throw Error(std::string(op) + ": MPI is not running: create a tg::dist::Environment at the top of main first" +
                (finalized ? " (it was finalised already)" : ""));
}
}  // namespace detail

namespace {

std::terminate_handler previous_terminate = nullptr;

/// std::terminate (an exception nobody caught, or one thrown from a destructor during
/// unwinding): name it and the rank, and take the other ranks down with this one.
[[noreturn]] void terminate_all() {
  std::string what = "std::terminate was called without an active exception";
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = std::string("uncaught exception: ") + e.what();
    } catch (...) {
      what = "uncaught exception not derived from std::exception";
    }
  }
  abort_all(what);
}

void start(int* argc, char*** argv, bool& owns) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  // SERIALIZED: the gradient hooks may run on whichever thread calls backward (one at a time).
  int provided = 0;
  detail::check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "tg::dist::Environment",
                    "MPI_Init_thread");
  owns = true;
  // Errors come back as codes, turned into tg::Error with the operation's name, rather than
  // MPI's default of aborting from deep inside the library.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  previous_terminate = std::set_terminate(terminate_all);
}

}  // namespace

Environment::Environment() : uncaught_at_start_(std::uncaught_exceptions()) { start(nullptr, nullptr, owns_); }

Environment::Environment(int& argc, char**& argv) : uncaught_at_start_(std::uncaught_exceptions()) {
  start(&argc, &argv, owns_);
}

Environment::~Environment() {
  if (!owns_) return;
  if (std::uncaught_exceptions() > uncaught_at_start_)
    abort_all("an exception left the scope of tg::dist::Environment (catch it inside, or use tg::dist::run_or_abort "
              "to see its message)");
  std::set_terminate(previous_terminate);
  MPI_Finalize();
}

int rank() {
  detail::require_initialized("tg::dist::rank");
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  detail::require_initialized("tg::dist::world_size");
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

void barrier() {
  detail::require_initialized("tg::dist::barrier");
  detail::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "tg::dist::barrier", "MPI_Barrier");
}

void abort_all(const std::string& what) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  const bool running = initialized && !finalized;
  int r = 0, n = 1;
  if (running) {
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
  }
  std::fflush(stdout);
  std::fprintf(stderr, "tg::dist: rank %d of %d failed: %s\ntg::dist: ending all %d ranks\n", r, n, what.c_str(), n);
  std::fflush(stderr);
  if (running) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

}  // namespace tg::dist
