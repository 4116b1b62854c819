# bench_ops still covers every op: each op listed in autograd/ops/ops.def must name a row of
# bench_ops (a whole word of a row's name, as `bench_ops --benchmark_list_tests` prints them).
#   cmake -DPROGRAM=<bench_ops> -DOPS_DEF=<autograd/ops/ops.def> -P op_coverage.cmake
execute_process(COMMAND ${PROGRAM} --benchmark_list_tests OUTPUT_VARIABLE rows ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "bench_ops --benchmark_list_tests failed (${status}): ${errors}")
endif()
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*" words "${rows}")

# (file(READ), not file(STRINGS): the lines end in backslashes, which would escape CMake's
# list separators)
file(READ ${OPS_DEF} text)
string(REGEX MATCHALL "\n[ \t]*OP\\([^,\n]+,[ \t]*[A-Za-z_][A-Za-z0-9_]*" op_entries "${text}")
set(ops "")
foreach(entry IN LISTS op_entries)
  # OP(return type, name, (parameters)); the name may carry template arguments: one_hot<T>
  string(REGEX REPLACE ".*,[ \t]*" "" op "${entry}")
  list(APPEND ops ${op})
endforeach()
list(REMOVE_DUPLICATES ops)
list(LENGTH ops op_count)
if(op_count LESS 50)
  message(FATAL_ERROR "read only ${op_count} ops from ${OPS_DEF}: has its OP(...) format changed?")
endif()

set(missing "")
foreach(op IN LISTS ops)
  list(FIND words ${op} at)
  if(at EQUAL -1)
    list(APPEND missing ${op})
  endif()
endforeach()
if(missing)
  list(LENGTH missing missing_count)
  list(JOIN missing ", " missing)
  message(FATAL_ERROR "bench_ops has no row for ${missing_count} of the ${op_count} ops of ops.def: ${missing} "
                      "(add a row to benchmarks/bench_ops.cpp whose name names the op)")
endif()
message(STATUS "bench_ops names all ${op_count} ops of ops.def")
