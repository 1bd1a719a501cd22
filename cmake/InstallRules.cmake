# What `cmake --install` puts where (GNU layout, under CMAKE_INSTALL_PREFIX): the program and
# the plot script in bin/, README, LICENSE and a Debian copyright file in share/doc/normtrain/,
# man pages in share/man/man1/. The .deb (cmake/Packaging.cmake) is made from these rules.
# Tests, fuzzers and benchmarks are not installed.
include(GNUInstallDirs)

# An upstream LibTorch (and CUDA) lives outside the system library folders: the installed
# program keeps the folders it was linked from in its RUNPATH, as the build tree's copy does.
# Against Debian's LibTorch in /usr/lib there are none, so that program has no RUNPATH at all.
set_target_properties(normtrain PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS normtrain RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
# scripts/plot.sh draws runs with gnuplot; installed it finds the normtrain beside it.
install(PROGRAMS scripts/plot.sh DESTINATION "${CMAKE_INSTALL_BINDIR}" RENAME normtrain-plot)

# Debian's machine-readable copyright file, made from LICENSE so that the text exists once.
file(READ "${PROJECT_SOURCE_DIR}/LICENSE" license_text)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/LICENSE")
string(REGEX MATCH "Copyright \\(c\\) ([^\n]+)" _ "${license_text}")
set(copyright_holder "${CMAKE_MATCH_1}")
string(REGEX REPLACE "^[^\n]*\n\n[^\n]*\n\n" "" license_body "${license_text}")  # title, copyright
string(STRIP "${license_body}" license_body)
string(REPLACE "\n\n" "\n.\n" license_body "${license_body}")
string(REPLACE "\n" "\n " license_body "${license_body}")
file(CONFIGURE OUTPUT "${PROJECT_BINARY_DIR}/copyright" CONTENT
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${PROJECT_NAME}

Files: *
Copyright: ${copyright_holder}
License: Expat
 ${license_body}
" @ONLY)
install(FILES README.md LICENSE "${PROJECT_BINARY_DIR}/copyright"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}")

# Man pages made by help2man from `--help` and `--version` (scripts/install_deps.sh installs
# it); without help2man there are none, and configuring says so.
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM)
  file(MAKE_DIRECTORY "${PROJECT_BINARY_DIR}/man")
  # normtrain_man_page(NAME PROGRAM SUMMARY DEPENDS what-PROGRAM-is-made-from... [HELP2MAN
  # options...]): NAME.1.gz, from PROGRAM's --help, installed in section 1.
  function(normtrain_man_page name program summary)
    cmake_parse_arguments(PARSE_ARGV 3 arg "" "" "DEPENDS;HELP2MAN")
    set(page "${PROJECT_BINARY_DIR}/man/${name}.1")
    add_custom_command(
      OUTPUT "${page}.gz"
      COMMAND "${HELP2MAN_PROGRAM}" --no-info --section 1 --name "${summary}" ${arg_HELP2MAN}
              --output "${page}" "${program}"
      COMMAND gzip -9nf "${page}"
      DEPENDS ${arg_DEPENDS}
      COMMENT "Generating the man page ${name}(1) with help2man"
      VERBATIM)
    # OPTIONAL: a build of the program alone (--target normtrain) installs without them.
    install(FILES "${page}.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" OPTIONAL)
    set(normtrain_man_pages ${normtrain_man_pages} "${page}.gz" PARENT_SCOPE)
  endfunction()
  # docs/normtrain.h2m adds the sections --help lacks (exit status, files, see also).
  string(SUBSTRING "${PROJECT_DESCRIPTION}" 0 1 initial)  # "normtrain - normalization study..."
  string(TOLOWER "${initial}" initial)
  string(SUBSTRING "${PROJECT_DESCRIPTION}" 1 -1 rest)
  normtrain_man_page(normtrain "$<TARGET_FILE:normtrain>" "${initial}${rest}"
    DEPENDS normtrain "${PROJECT_SOURCE_DIR}/docs/normtrain.h2m"
    HELP2MAN --include "${PROJECT_SOURCE_DIR}/docs/normtrain.h2m")
  # Run by its installed name, so that the page (and its usage line) names normtrain-plot.
  file(CREATE_LINK "${PROJECT_SOURCE_DIR}/scripts/plot.sh" "${PROJECT_BINARY_DIR}/man/normtrain-plot"
       SYMBOLIC)
  normtrain_man_page(normtrain-plot "${PROJECT_BINARY_DIR}/man/normtrain-plot"
    "plot normtrain runs side by side with gnuplot"
    DEPENDS "${PROJECT_SOURCE_DIR}/scripts/plot.sh"
    HELP2MAN --version-string "${PROJECT_VERSION}")
  add_custom_target(normtrain_man ALL DEPENDS ${normtrain_man_pages})
else()
  add_custom_target(normtrain_man)
  message(STATUS "normtrain: help2man not found, so no man pages are installed "
                 "(scripts/install_deps.sh installs it)")
endif()
