# librdkafka: the version Debian bookworm ships (2.0.2), built from Debian's source tarball with
# the patches in cmake/librdkafka/ (each says what it fixes), linked statically as
# caseline::rdkafka. The one patch today is upstream's fix of the main thread's wait (librdkafka
# #4671, released in 2.4.0): a timer due in under a millisecond made the thread spin until it was
# due: one to two milliseconds of CPU per Kafka transaction, 0.55 of a core for a server of a
# group under load on this project's 2-core machine (tests/events/rdkafka_main_thread_test.cpp).
#
# The build runs at configure time, once per machine and patch set: the library is kept in
# CASELINE_DEPS_DIR under a name made from the patches' and the build script's digest, and every
# build folder and clone of the machine uses it.

set(_caseline_rdkafka_dir ${CMAKE_CURRENT_LIST_DIR}/librdkafka)
file(GLOB _caseline_rdkafka_inputs ${_caseline_rdkafka_dir}/*)
list(SORT _caseline_rdkafka_inputs)
set(_caseline_rdkafka_digests "")
foreach(_f IN LISTS _caseline_rdkafka_inputs)
  file(SHA256 ${_f} _digest)
  string(APPEND _caseline_rdkafka_digests ${_digest})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_f})
endforeach()
string(SHA256 _digest "${_caseline_rdkafka_digests}")
string(SUBSTRING ${_digest} 0 12 _digest)

if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
  set(_caseline_cache $ENV{XDG_CACHE_HOME}/caseline)
elseif(DEFINED ENV{HOME} AND NOT "$ENV{HOME}" STREQUAL "")
  set(_caseline_cache $ENV{HOME}/.cache/caseline)
else()
  set(_caseline_cache ${CMAKE_BINARY_DIR}/_deps)
endif()
set(CASELINE_DEPS_DIR ${_caseline_cache} CACHE PATH
  "Where dependencies built from source (librdkafka) are kept, shared by build folders")

set(CASELINE_RDKAFKA_PREFIX ${CASELINE_DEPS_DIR}/librdkafka-2.0.2-${_digest})
if(NOT EXISTS ${CASELINE_RDKAFKA_PREFIX}/.built)
  message(STATUS "librdkafka: building 2.0.2 with cmake/librdkafka/*.patch into "
    "${CASELINE_RDKAFKA_PREFIX} (once per machine and patch set)")
  execute_process(COMMAND bash ${_caseline_rdkafka_dir}/build.sh ${CASELINE_RDKAFKA_PREFIX}
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "librdkafka: cmake/librdkafka/build.sh failed (its output is above)")
  endif()
endif()

find_package(ZLIB REQUIRED)
find_library(CASELINE_ZSTD_LIBRARY zstd REQUIRED)
add_library(caseline::rdkafka STATIC IMPORTED GLOBAL)
set_target_properties(caseline::rdkafka PROPERTIES
  IMPORTED_LOCATION ${CASELINE_RDKAFKA_PREFIX}/lib/librdkafka.a
  INTERFACE_INCLUDE_DIRECTORIES ${CASELINE_RDKAFKA_PREFIX}/include)
target_link_libraries(caseline::rdkafka INTERFACE OpenSSL::SSL OpenSSL::Crypto ZLIB::ZLIB
  ${CASELINE_ZSTD_LIBRARY} Threads::Threads ${CMAKE_DL_LIBS} m rt)
