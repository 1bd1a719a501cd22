# Each translation unit that includes LibTorch costs tens of seconds; ccache makes rebuilds cheap.
option(NORMTRAIN_USE_CCACHE "Use ccache when it is installed" ON)
if(NORMTRAIN_USE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(CCACHE_PROGRAM ccache)
  if(CCACHE_PROGRAM)
    set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
    message(STATUS "normtrain: using ccache at ${CCACHE_PROGRAM}")
  endif()
endif()
