# The CMake side of @fdloop/native-build: what every fdloop addon's CMakeLists.txt shares, and the one entry
# point to it. buildAddon() passes FDLOOP_NATIVE_BUILD_CMAKE_DIR (this directory), so a CMakeLists.txt starts with
#
#   include("${FDLOOP_NATIVE_BUILD_CMAKE_DIR}/FdloopAddon.cmake")
#   fdloop_addon(<target>
#     SOURCES <file>...             # the addon's sources (${CMAKE_JS_SRC} is added)
#     [COMPONENTS <name>...]        # shared C++ of this package (native/fdloop) compiled in: args, posix (below)
#     [INCLUDES <dir>...]           # PRIVATE include directories (warnings on)
#     [SYSTEM_INCLUDES <dir>...]    # more SYSTEM include directories, after Node's and node-addon-api's
#     [DEFINITIONS <def>...]        # more PRIVATE definitions, after the node-addon-api switches
#     [LIBRARIES <lib>...])         # more libraries, after ${CMAKE_JS_LIB}
#
# buildAddon() also passes NODE_ADDON_API_DIR. Without it, node-addon-api is resolved with Node from the including
# package's directory: node-addon-api is a dependency of the addon package, not of this one.
include_guard(GLOBAL)

# The shared C++ tree of this package: `#include "fdloop/..."` works in every addon (fdloop/contract.h, the
# Interest/Ready numbers of @fdloop/core's contract, is header-only); COMPONENTS adds sources:
#   args   fdloop/args.cc: the argument checks of native entry points (IntegerArg, FdArg, ByteRangeArgs…);
#   posix  args plus fdloop/posix/*.cc: the uv_poll poller base (PollerWrap), the `sys` and `sock` helpers of the
#          POSIX backends (pipes, ptys, sockets; Linux conveniences with portable fallbacks). POSIX systems only.
# An addon package depends on @fdloop/native-build, so its published tarball builds from the copy npm installs.
set(FDLOOP_NATIVE_DIR "${CMAKE_CURRENT_LIST_DIR}/../native")
get_filename_component(FDLOOP_NATIVE_DIR "${FDLOOP_NATIVE_DIR}" ABSOLUTE)
set(FDLOOP_COMPONENT_args "${FDLOOP_NATIVE_DIR}/fdloop/args.cc")
set(FDLOOP_COMPONENT_posix ${FDLOOP_COMPONENT_args}
  "${FDLOOP_NATIVE_DIR}/fdloop/posix/poller_base.cc"
  "${FDLOOP_NATIVE_DIR}/fdloop/posix/portable.cc"
  "${FDLOOP_NATIVE_DIR}/fdloop/posix/sock.cc"
  "${FDLOOP_NATIVE_DIR}/fdloop/posix/sys.cc")

# node-addon-api is header-only.
if(NOT NODE_ADDON_API_DIR)
  find_program(FDLOOP_NODE node REQUIRED)
  execute_process(
    COMMAND "${FDLOOP_NODE}" -p "require('path').dirname(require.resolve('node-addon-api/package.json'))"
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    OUTPUT_VARIABLE NODE_ADDON_API_DIR
    OUTPUT_STRIP_TRAILING_WHITESPACE
    COMMAND_ERROR_IS_FATAL ANY)
endif()
if(NOT EXISTS "${NODE_ADDON_API_DIR}/napi.h")
  message(FATAL_ERROR "node-addon-api not found (NODE_ADDON_API_DIR='${NODE_ADDON_API_DIR}'); run npm install")
endif()

# Defines the SHARED library <target> as a Node addon: <target>.node, C++17, hidden symbols, Node's and
# node-addon-api's headers as SYSTEM includes, no C++ exceptions, fdloop's warning flags.
function(fdloop_addon target)
  cmake_parse_arguments(PARSE_ARGV 1 FDLOOP_ADDON "" ""
    "SOURCES;COMPONENTS;INCLUDES;SYSTEM_INCLUDES;DEFINITIONS;LIBRARIES")
  if(FDLOOP_ADDON_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "fdloop_addon(${target}): unknown arguments: ${FDLOOP_ADDON_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT FDLOOP_ADDON_SOURCES)
    message(FATAL_ERROR "fdloop_addon(${target}): SOURCES is required")
  endif()
  set(shared_sources "")
  foreach(component IN LISTS FDLOOP_ADDON_COMPONENTS)
    if(NOT DEFINED FDLOOP_COMPONENT_${component})
      message(FATAL_ERROR "fdloop_addon(${target}): unknown component '${component}' (known: args, posix)")
    endif()
    list(APPEND shared_sources ${FDLOOP_COMPONENT_${component}})
  endforeach()
  list(REMOVE_DUPLICATES shared_sources)

  add_library(${target} SHARED ${FDLOOP_ADDON_SOURCES} ${shared_sources} ${CMAKE_JS_SRC})

  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".node"
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)

  target_include_directories(${target} PRIVATE ${FDLOOP_ADDON_INCLUDES} "${FDLOOP_NATIVE_DIR}")
  # SYSTEM: warnings are for our code, not for Node's or node-addon-api's headers.
  target_include_directories(${target} SYSTEM PRIVATE ${CMAKE_JS_INC} "${NODE_ADDON_API_DIR}"
    ${FDLOOP_ADDON_SYSTEM_INCLUDES})

  target_compile_definitions(${target} PRIVATE
    NAPI_VERSION=8
    # No C++ exception can cross into Node: node-addon-api reports failures as pending JS exceptions and the
    # library is compiled with -fno-exceptions, so nothing in our code can throw either.
    NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
    # worker.terminate() stops a worker's JS while it may still be inside one of our methods; node-addon-api's
    # attempt to throw there fails, and without this switch it turns that failure into a process abort
    # (Error::Fatal). With it, the throw is dropped: the worker is going away and nobody could catch it.
    NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
    ${FDLOOP_ADDON_DEFINITIONS})

  target_compile_options(${target} PRIVATE -fno-exceptions -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion)

  target_link_libraries(${target} PRIVATE ${CMAKE_JS_LIB} ${FDLOOP_ADDON_LIBRARIES})
endfunction()
