# The Debian package: `cmake --build build --target deb` writes build/normtrain_VERSION_ARCH.deb
# from the install rules (cmake/InstallRules.cmake), installed under /usr. dpkg-shlibdeps
# computes its dependencies from the libraries the program links, so the package depends on
# the Debian LibTorch it was built against (libtorch1.13 on Debian 12, libtorch2.6 on 13).
# Built against an upstream LibTorch, the program finds it through its RUNPATH; that folder
# belongs to no package, so the .deb names no LibTorch and needs it at the same path.
set(NORMTRAIN_PACKAGE_MAINTAINER "The normtrain authors <normtrain@invalid>"
    CACHE STRING "Maintainer field of the .deb: 'Name <email>'")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME "${PROJECT_NAME}")
set(CPACK_PACKAGE_VENDOR "The normtrain authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# The long description as the control file shows it (lines under 80 characters).
set(CPACK_PACKAGE_DESCRIPTION
"normtrain trains the same 9,752-parameter MNIST convolutional network with
BatchNorm (plus an L1 penalty), LayerNorm, GroupNorm or instance norm, chosen
by a flag, on CPU or CUDA, and writes per-epoch and per-batch metrics, a model
summary, the misclassified test images, a confusion matrix and a checkpoint
for each run. It resumes interrupted runs, runs sweeps locally or on Slurm,
reports runs as Markdown tables and plots them with gnuplot (normtrain-plot).")
set(CPACK_STRIP_FILES ON)
# `--target package_source`: the sources as a tarball, without what .gitignore leaves out.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/\\\\.git$" "/\\\\.cache/" "/build[^/]*/" "/runs/" "/data/mnist/"
    "/__pycache__/")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # normtrain_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${NORMTRAIN_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gnuplot-nox | gnuplot")  # normtrain-plot draws with it

include(CPack)

# Only what the package holds is built (not the tests), then CPack makes the .deb.
add_custom_target(deb
  COMMAND "${CMAKE_CPACK_COMMAND}" -G DEB --config "${PROJECT_BINARY_DIR}/CPackConfig.cmake"
  WORKING_DIRECTORY "${PROJECT_BINARY_DIR}"
  COMMENT "Making the Debian package with CPack"
  VERBATIM)
add_dependencies(deb normtrain normtrain_man)
