# Warnings are a per-target property so that third-party code is not affected. CI turns them
# into errors (the "ci" preset), so that none creeps in.
option(NORMTRAIN_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
function(normtrain_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  endif()
  if(NORMTRAIN_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE $<IF:$<CXX_COMPILER_ID:MSVC>,/WX,-Werror>)
  endif()
endfunction()
