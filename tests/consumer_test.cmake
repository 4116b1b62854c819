# Run by ctest (see consumer.cmake). Fails on the first step that fails.
file(REMOVE_RECURSE ${WORK_DIR})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_and_consume: '${ARGN}' failed (${rc})")
  endif()
endfunction()
function(fail message)
  message(FATAL_ERROR "install_and_consume: ${message}")
endfunction()

if(LIBRARY_TYPE STREQUAL "SHARED_LIBRARY")
  set(this shared)
  set(other static)
  set(other_shared OFF)
else()
  set(this static)
  set(other shared)
  set(other_shared ON)
endif()

# 1. This build, as it is.
step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/${this})

# 2. The library the other way: the libraries only (tapegrad, and tapegrad::dist when MPI is
#    found), no tests, benchmarks or examples. Its
#    folder is a sibling of this build's, so the compile command lines (relative paths under
#    CCACHE_BASEDIR, else absolute ones) are the same as this build's and ccache has every
#    object. It is kept, so that the next run only rebuilds what changed.
set(other_build ${BUILD_DIR}-consumer-${other})
step(${CMAKE_COMMAND} -S ${TAPEGRAD_SOURCE_DIR} -B ${other_build} -G ${GENERATOR}
     -DBUILD_SHARED_LIBS=${other_shared} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_CXX_FLAGS=${CXX_FLAGS} -DTAPEGRAD_NATIVE=${NATIVE}
     -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_BENCHMARKS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF)
step(${CMAKE_COMMAND} --build ${other_build})
step(${CMAKE_COMMAND} --install ${other_build} --prefix ${WORK_DIR}/${other})

# 3. What each install holds: public headers only; the shared library's CMake config and .pc
#    ask for none of its private link dependencies, the static one's ask for all of them.
foreach(kind static shared)
  set(prefix ${WORK_DIR}/${kind})
  file(GLOB_RECURSE internal ${prefix}/include/*/kernels/* ${prefix}/include/*/detail/* ${prefix}/include/*/axes.hpp ${prefix}/include/*/fused.hpp ${prefix}/include/*.def)
  if(internal)
    fail("internal headers installed: ${internal}")
  endif()
  file(GLOB_RECURSE pc ${prefix}/*/tapegrad.pc)
  file(GLOB_RECURSE config ${prefix}/*/tapegradConfig.cmake)
  file(GLOB_RECURSE targets ${prefix}/*/tapegradTargets*.cmake)
  if(NOT pc OR NOT config OR NOT targets)
    fail("${kind}: tapegrad.pc, tapegradConfig.cmake or tapegradTargets.cmake not installed")
  endif()
  get_filename_component(${kind}_pc_dir ${pc} DIRECTORY)
  file(READ ${pc} pc_text)
  set(cmake_text)
  foreach(file ${config} ${targets})
    file(READ ${file} text)
    string(APPEND cmake_text "${text}")
  endforeach()
  if(kind STREQUAL "shared")
    if(cmake_text MATCHES "ZLIB|LIBZIP|openblas" OR pc_text MATCHES "libzip|zlib|openblas")
      fail("the shared install asks for its private link dependencies (libzip, zlib, OpenBLAS)")
    endif()
  elseif(NOT cmake_text MATCHES "LIBZIP" OR NOT pc_text MATCHES "Requires: xtensor libzip zlib" OR NOT pc_text MATCHES "Libs: [^\n]*openblas")
    fail("the static install does not name its link dependencies (libzip, zlib, OpenBLAS) where a plain pkg-config --libs sees them")
  endif()
endforeach()

# 4. A CMake project consuming each install. The shared one must configure with ZLIB and
#    pkg-config (libzip's finder) out of reach: its consumers need no libzip-dev.
foreach(kind static shared)
  set(extra)
  if(kind STREQUAL "shared")
    set(extra -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON)
  endif()
  step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/consumer-${kind} -G ${GENERATOR}
       -DCMAKE_PREFIX_PATH=${WORK_DIR}/${kind} -DCMAKE_BUILD_TYPE=Release ${extra})
  step(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-${kind})
  step(${WORK_DIR}/consumer-${kind}/consumer)
endforeach()

# 5. pkg-config and a plain compiler command line: compiled once, linked against the shared
#    library and the static one, each with the plain `--libs` (the static install's .pc names
#    its dependencies in Libs, so `g++ app.cpp $(pkg-config --cflags --libs tapegrad)` links).
find_program(PKG_CONFIG pkg-config REQUIRED)
function(pkg_config out pc_dir)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir} ${PKG_CONFIG} ${ARGN} tapegrad
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    fail("pkg-config ${ARGN} tapegrad (PKG_CONFIG_PATH=${pc_dir}) failed")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(${out} ${flags} PARENT_SCOPE)
endfunction()
pkg_config(cflags ${shared_pc_dir} --cflags)
pkg_config(shared_libs ${shared_pc_dir} --libs)
pkg_config(static_libs ${static_pc_dir} --libs)
set(pc_work ${WORK_DIR}/consumer-pkg-config)
file(MAKE_DIRECTORY ${pc_work})
step(${CXX_LAUNCHER} ${CXX_COMPILER} -std=c++20 -O2 ${cflags} -c ${SOURCE_DIR}/main.cpp -o ${pc_work}/main.o)
get_filename_component(shared_lib_dir ${shared_pc_dir} DIRECTORY)
step(${CXX_COMPILER} ${pc_work}/main.o ${shared_libs} -Wl,-rpath,${shared_lib_dir} -o ${pc_work}/consumer-shared)
step(${CXX_COMPILER} ${pc_work}/main.o ${static_libs} -o ${pc_work}/consumer-static)
step(${pc_work}/consumer-shared)
step(${pc_work}/consumer-static)
