# caseline_header_check(<folder> <library>): every header under <folder> compiled alone, in a
# translation unit of its own that includes it twice (a header must bring what it uses and be
# safe to include again). The units are generated into the build tree and only rewritten when a
# header is added, so nothing rebuilds that did not change. Built by the target `header_check`
# (not part of `all`); `tools/dev.sh lint` builds it.
if(NOT TARGET header_check)
  add_custom_target(header_check)
endif()

function(caseline_header_check folder library)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
    ${PROJECT_SOURCE_DIR}/${folder}/*.h)
  set(units)
  foreach(header IN LISTS headers)
    set(unit ${CMAKE_BINARY_DIR}/header_check/${header}.cpp)
    file(CONFIGURE OUTPUT ${unit} CONTENT "#include \"${header}\"\n#include \"${header}\"\n")
    list(APPEND units ${unit})
  endforeach()
  if(NOT units)
    return()
  endif()
  add_library(header_check_${folder} OBJECT EXCLUDE_FROM_ALL ${units})
  target_link_libraries(header_check_${folder} PRIVATE ${library})
  caseline_warnings(header_check_${folder})
  add_dependencies(header_check header_check_${folder})
endfunction()
