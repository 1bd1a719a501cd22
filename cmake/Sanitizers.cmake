# Sanitizers are a per-target property, like warnings: only normtrain's own code is
# instrumented, never the libraries it links.
option(NORMTRAIN_SANITIZE
       "Build normtrain's own targets with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(NORMTRAIN_FUZZ "Build the libFuzzer targets in fuzz/ (needs clang)" OFF)

# Any undefined behaviour stops the program, so that a test or a fuzzer sees it fail.
set(NORMTRAIN_SANITIZER_FLAGS
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

if((NORMTRAIN_SANITIZE OR NORMTRAIN_FUZZ) AND NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  message(FATAL_ERROR "NORMTRAIN_SANITIZE and NORMTRAIN_FUZZ need GCC or Clang, not "
                      "${CMAKE_CXX_COMPILER_ID}")
endif()
if(NORMTRAIN_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "NORMTRAIN_FUZZ needs clang (libFuzzer): configure a fresh build folder "
                      "with CC=clang CXX=clang++, as scripts/fuzz.sh does")
endif()

# Instruments `target` when NORMTRAIN_SANITIZE is on. With NORMTRAIN_FUZZ the same sanitizers
# apply, and the code gets libFuzzer's coverage hooks too (fuzzer-no-link: without its main).
function(normtrain_set_sanitizers target)
  if(NORMTRAIN_SANITIZE OR NORMTRAIN_FUZZ)
    target_compile_options(${target} PRIVATE ${NORMTRAIN_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE ${NORMTRAIN_SANITIZER_FLAGS})
  endif()
  if(NORMTRAIN_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()
