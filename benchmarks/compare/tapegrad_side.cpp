// The tapegrad side's thread count, printed beside each result (its own pool: OpenBLAS runs on
// one thread per call under tapegrad).
#include <tapegrad/tapegrad.hpp>

namespace bench {
int side_threads() { return static_cast<int>(tg::get_num_threads()); }
}  // namespace bench
