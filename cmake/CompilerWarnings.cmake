# Warnings are a per-target property so that third-party code is not affected. CI turns them
# into errors (the "ci" preset), so that none creeps in.
option(NORMTRAIN_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
function(normtrain_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  else()
    # cpp-best-practices' list, less what LibTorch's int64_t-everywhere API makes pure noise
    # (-Wconversion, -Wsign-conversion) and what its macros trip (-Wold-style-cast,
    # -Wuseless-cast), and -Wnull-dereference, which GCC 12 raises inside nlohmann/json's
    # inlined code. LibTorch's own headers come in as system headers and stay quiet.
    target_compile_options(${target} PRIVATE
      -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
      -Woverloaded-virtual -Wdouble-promotion -Wformat=2
      -Wimplicit-fallthrough)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE
        -Wmisleading-indentation -Wduplicated-cond -Wduplicated-branches -Wlogical-op)
      # GCC 13 and 14 at -O3 report false -Warray-bounds and -Wstringop-overflow inside
      # libstdc++'s std::vector<bool>, inlined from LibTorch 2.x's autograd Function::apply into
      # every file that defines a custom backward (GCC bug 107852).
      if(CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 13)
        target_compile_options(${target} PRIVATE -Wno-array-bounds -Wno-stringop-overflow)
      endif()
    endif()
  endif()
  if(NORMTRAIN_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE $<IF:$<CXX_COMPILER_ID:MSVC>,/WX,-Werror>)
  endif()
endfunction()
