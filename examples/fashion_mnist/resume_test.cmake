# ctest: a run stopped after STOP steps (as if killed) and resumed with --resume from its last
# checkpoint (every EVERY steps) must end with the same model file, byte for byte, as an
# unbroken run. Arguments: -DPROGRAM= -DOUT= -DEVERY= -DSTOP=
set(common --epochs 2 --limit 1000 --seed 3)
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${PROGRAM} ${common} --out ${OUT}/unbroken RESULT_VARIABLE status OUTPUT_QUIET)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the unbroken run failed (${status})")
endif()
execute_process(COMMAND ${PROGRAM} ${common} --out ${OUT}/broken --checkpoint-every ${EVERY} --stop-after ${STOP}
                RESULT_VARIABLE status OUTPUT_QUIET)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the run stopped after ${STOP} steps failed (${status})")
endif()
execute_process(COMMAND ${PROGRAM} ${common} --out ${OUT}/broken --resume RESULT_VARIABLE status OUTPUT_VARIABLE log)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the resumed run failed (${status}):\n${log}")
endif()
string(REGEX MATCH "resumed from [^\n]*" resumed "${log}")
message(STATUS "${resumed}")
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/unbroken/fashion_mnist_mlp.npz
                        ${OUT}/broken/fashion_mnist_mlp.npz RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
  message(FATAL_ERROR "the resumed run's model differs from the unbroken run's")
endif()
