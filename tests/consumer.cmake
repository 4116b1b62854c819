# ctest: install this build into a scratch prefix, build the library the other way (static <->
# shared) in a sibling folder of this build and install it too, then build and run
# tests/consumer against each install with find_package(tapegrad CONFIG), and once with a
# plain compiler command line from pkg-config (see consumer_test.cmake).
get_target_property(TAPEGRAD_TYPE tapegrad TYPE)
add_test(NAME install_and_consume
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR}
    -DTAPEGRAD_SOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-work
    -DGENERATOR=${CMAKE_GENERATOR}
    -DLIBRARY_TYPE=${TAPEGRAD_TYPE}
    -DBUILD_TYPE=${CMAKE_BUILD_TYPE}
    -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DCXX_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
    "-DCXX_FLAGS=${CMAKE_CXX_FLAGS}"
    -DNATIVE=${TAPEGRAD_NATIVE}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer_test.cmake)
