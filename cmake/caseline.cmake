# caseline_library(<module> SOURCES ... DEPS ...): one library per module, used through the
# alias caseline::<module>. Warnings are errors on our own code only.
function(caseline_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(CASELINE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(caseline_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(caseline_${name} STATIC ${arg_SOURCES})
  add_library(caseline::${name} ALIAS caseline_${name})
  target_include_directories(caseline_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(caseline_${name} PUBLIC ${arg_PUBLIC_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
  caseline_warnings(caseline_${name})
endfunction()
