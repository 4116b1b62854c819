# LLVM's FuzzedDataProvider.h (one header, shipped with clang: libclang-common-14-dev, which
# clang-14 pulls in) decodes fuzz bytes into values. Only its own folder goes on the include
# path: clang's resource folder beside it holds compiler headers GCC must not see.
file(GLOB TAPEGRAD_CLANG_FUZZER_DIRS /usr/lib/llvm-*/lib/clang/*/include/fuzzer)
find_path(TAPEGRAD_FUZZED_DATA_PROVIDER_DIR FuzzedDataProvider.h PATHS ${TAPEGRAD_CLANG_FUZZER_DIRS} NO_DEFAULT_PATH)
