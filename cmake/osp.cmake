# Build helpers shared by every folder: warnings, sanitizers, and the
# osp_library / osp_service / osp_test / osp_fuzz_replay functions.

set(OSP_WARNINGS -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes
    -Wstrict-prototypes -Wvla -Wno-unused-parameter)
add_compile_definitions(_GNU_SOURCE OSPREY_VERSION="${PROJECT_VERSION}")

if(OSPREY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(OSPREY_FUZZ)
  # every library is instrumented for coverage and checked by ASan+UBSan, not only the
  # fuzz entry points: otherwise libFuzzer sees a handful of edges and ASan misses reads
  # in the code under test
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(OSPREY_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# osp_library(name SOURCES ... DEPS ...): static library libs/<name>, public dir = its folder.
function(osp_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(osp_${name} STATIC ${A_SOURCES})
  target_include_directories(osp_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_options(osp_${name} PRIVATE ${OSP_WARNINGS})
  target_link_libraries(osp_${name} PUBLIC ${A_DEPS})
endfunction()

# osp_service(name MAIN main.c SOURCES ... DEPS ...): static lib <name>_lib of
# everything but main.c (tests link it) and the binary osprey-<name>.
function(osp_service name)
  cmake_parse_arguments(A "" "MAIN" "SOURCES;DEPS" ${ARGN})
  string(REPLACE "-" "_" lname ${name})
  add_library(${lname}_lib STATIC ${A_SOURCES})
  target_include_directories(${lname}_lib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_options(${lname}_lib PRIVATE ${OSP_WARNINGS})
  target_link_libraries(${lname}_lib PUBLIC ${A_DEPS})
  add_executable(osprey-${name} ${A_MAIN})
  target_compile_options(osprey-${name} PRIVATE ${OSP_WARNINGS})
  target_link_libraries(osprey-${name} PRIVATE ${lname}_lib)
  set_target_properties(osprey-${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()

# osp_test(name SOURCES ... DEPS ... LABEL unit|integration|conformance TIMEOUT s)
# ctest name is the given name (e.g. unit.core.buf). Env OSP_SOURCE_DIR / OSP_BIN_DIR set.
# RUNNER: a command that runs the test binary (given as its argument).
function(osp_test name)
  cmake_parse_arguments(A "" "LABEL;TIMEOUT;RUNNER" "SOURCES;DEPS" ${ARGN})
  string(REPLACE "." "_" exe ${name})
  add_executable(${exe} ${A_SOURCES})
  target_compile_options(${exe} PRIVATE ${OSP_WARNINGS} -Wno-missing-prototypes)
  target_link_libraries(${exe} PRIVATE ${A_DEPS} osp_testsupport PkgConfig::CMOCKA)
  if(NOT A_LABEL)
    set(A_LABEL unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 60)
  endif()
  if(A_RUNNER)
    add_test(NAME ${name} COMMAND ${A_RUNNER} $<TARGET_FILE:${exe}>)
  else()
    add_test(NAME ${name} COMMAND ${exe})
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "OSP_SOURCE_DIR=${PROJECT_SOURCE_DIR};OSP_BIN_DIR=${CMAKE_BINARY_DIR}/bin;OSP_SHARED_DIR=${PROJECT_SOURCE_DIR}/../shared")
endfunction()

# osp_fuzz_replay(name SOURCES fuzz/x_fuzz.c DEPS ...): builds the fuzz target with a
# replay main (gcc) that ctest runs over fuzz/corpus/<name>/.
function(osp_fuzz_replay name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(fuzz_replay_${name} ${A_SOURCES} ${PROJECT_SOURCE_DIR}/fuzz/replay_main.c)
  target_compile_options(fuzz_replay_${name} PRIVATE ${OSP_WARNINGS} -Wno-missing-prototypes)
  target_link_libraries(fuzz_replay_${name} PRIVATE ${A_DEPS})
  add_test(NAME fuzz.${name} COMMAND fuzz_replay_${name} ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
