# Each dependency is looked up only if a parent project has not provided it already.
if(NORMTRAIN_WITH_TORCH AND NOT TARGET torch)
  find_package(Torch REQUIRED)
  # A LibTorch built with the old C++ ABI cannot share std::string with the system's fmt and
  # spdlog: it would fail at link time with pages of undefined symbols. Say so up front.
  if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    message(FATAL_ERROR
      "This LibTorch uses the pre-C++11 ABI (-D_GLIBCXX_USE_CXX11_ABI=0). Download the "
      "'cxx11 ABI' LibTorch build (or use PyTorch 2.7 or later) and point CMAKE_PREFIX_PATH at it.")
  endif()
endif()
if(NOT TARGET CLI11::CLI11)
  find_package(CLI11 REQUIRED)
endif()
if(NOT TARGET fmt::fmt)
  find_package(fmt REQUIRED)
endif()
if(NOT TARGET spdlog::spdlog)
  find_package(spdlog REQUIRED)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  find_package(nlohmann_json 3 REQUIRED)
endif()
if(NOT TARGET ZLIB::ZLIB)
  find_package(ZLIB REQUIRED)
endif()
if(NOT TARGET CURL::libcurl)
  find_package(CURL REQUIRED)
endif()
if(NOT TARGET OpenSSL::Crypto)
  find_package(OpenSSL REQUIRED)
endif()

# stb is header-only; Debian's libstb-dev installs it under include/stb.
find_path(STB_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb REQUIRED)
add_library(normtrain_stb INTERFACE)
target_include_directories(normtrain_stb SYSTEM INTERFACE "${STB_INCLUDE_DIR}")
