// The libtorch side's thread count, printed beside each result (its intra-op pool, not OpenBLAS's).
#include <ATen/Parallel.h>

namespace bench {
int side_threads() { return at::get_num_threads(); }
}  // namespace bench
