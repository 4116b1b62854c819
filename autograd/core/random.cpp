// tapegrad's one random generator (randn, rand, dropout, the initialisers).
#include "variable.hpp"

namespace tg {

std::mt19937_64& generator() {
  static std::mt19937_64 engine(0x7a9e6ad);
  return engine;
}
void manual_seed(std::uint64_t seed) { generator().seed(seed); }

}  // namespace tg
