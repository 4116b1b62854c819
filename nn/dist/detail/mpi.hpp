#pragma once
// Inside tg::dist only (not installed): MPI's C API and the one check every call goes through.
#include <mpi.h>

#include <string>
#include <vector>
#include <type_traits>

#include "../../../autograd/core/error.hpp"

namespace tg::dist::detail {

/// Turns an MPI error code into a tg::Error naming tapegrad's operation and MPI's call.
inline void check_mpi(int code, const char* op, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string(op) + ": " + call + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

/// The MPI datatype of float or double.
template <class T>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

/// Compares each rank's description (one line per entry, such as "parameter 'fc.weight'
/// [10,784]") with root's; when any rank's differs, a tg::Error on every rank, the differing
/// ones naming their first difference (collectives.cpp).
void require_same_layout(const std::vector<std::string>& lines, int root, const char* op, const char* what);

/// tg::Error unless an Environment (or the program) has initialised MPI and not finalised it.
void require_initialized(const char* op);

}  // namespace tg::dist::detail
