#pragma once
// The threads tapegrad computes on.
#include <cstddef>

namespace tg {

/// How many threads tapegrad's large loops, convolutions and GEMMs run on, the calling thread
/// included: TAPEGRAD_NUM_THREADS, else OPENBLAS_NUM_THREADS, else the cores (at most 8), read
/// once when first needed. tapegrad runs OpenBLAS on one thread per call (it sets OpenBLAS's
/// thread count to 1 at its first GEMM) and splits large GEMMs over these threads itself, so a
/// process has one set of compute threads, not two fighting over the cores.
std::size_t get_num_threads();

}  // namespace tg
