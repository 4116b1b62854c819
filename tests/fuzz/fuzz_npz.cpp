// libFuzzer entry point of the npz target (tests/fuzz/targets.hpp); scripts/fuzz builds and runs it.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::fuzz::npz_one(data, size);
  return 0;
}
