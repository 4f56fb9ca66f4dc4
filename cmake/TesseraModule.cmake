# tessera_module(NAME DEPS...): a library from every .cpp file in the calling folder, linked
# to DEPS: static, or shared with TESSERA_SHARED_LIBS (the sanitizer build, where each of the
# many test executables would otherwise carry its own copy of the whole library). A module
# with no sources yet defines nothing.
function(tessera_module name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER sources EXCLUDE REGEX ".*/main\\.cpp$")
  if(NOT sources)
    return()
  endif()
  if(TESSERA_SHARED_LIBS)
    add_library(${name} SHARED ${sources})
  else()
    add_library(${name} STATIC ${sources})
  endif()
  target_link_libraries(${name} PUBLIC ${ARGN})
  set_property(GLOBAL APPEND PROPERTY TESSERA_LIBRARIES ${name})
endfunction()
