// libFuzzer entry point of the idx target (tests/fuzz/targets.hpp); scripts/fuzz builds and runs it.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::fuzz::idx_one(data, size);
  return 0;
}
