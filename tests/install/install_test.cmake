# Runs as `cmake -P`: install, check the installed tree, build and run the example.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(installed
    include/rampart/core/error.h include/rampart/core/version.h
    include/rampart/models/small_cnn.h include/rampart/training/trainer.h
    include/rampart/datasets/idx_reader.h include/rampart/security/model_intake.h
    lib/librampart_core.a lib/librampart_training.a
    lib/cmake/Rampart/RampartConfig.cmake lib/cmake/Rampart/RampartTargets.cmake bin/rampart)
  if(NOT EXISTS ${prefix}/${installed})
    message(FATAL_ERROR "not installed: ${installed}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/find_package -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix};${OUTER_PREFIX_PATH}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/train_synthetic ${WORK_DIR}/run)
message(STATUS "${run_output}")
if(NOT run_output MATCHES "reloaded accuracy (0\\.9|1\\.0)")
  message(FATAL_ERROR "the example trained too poorly:\n${run_output}")
endif()
