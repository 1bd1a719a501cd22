#include "normtrain/data/mirror_urls.hpp"

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

TEST(DownloadMirrors, FlagWinsOverEnvironmentWhichWinsOverDefaults) {
  EXPECT_EQ(resolve_mirrors("file:///flag/", "https://env.example/"),
            std::vector<std::string>{"file:///flag/"});
  EXPECT_EQ(resolve_mirrors("", "https://env.example/"),
            std::vector<std::string>{"https://env.example/"});
  EXPECT_EQ(resolve_mirrors("", ""), default_mnist_mirrors());
  EXPECT_EQ(resolve_mirrors("", nullptr), default_mnist_mirrors());
  const std::vector<std::string> defaults = default_mnist_mirrors();
  ASSERT_EQ(defaults.size(), 2u);
  EXPECT_EQ(defaults[0], "https://ossci-datasets.s3.amazonaws.com/mnist/");
  EXPECT_EQ(defaults[1], "http://yann.lecun.com/exdb/mnist/");
}

TEST(DownloadMirrors, RejectsWhatIsNotAUrlNamingItsSource) {
  try {
    resolve_mirrors("/srv/mnist", nullptr);
    FAIL() << "accepted a bare path";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(error.what()).find("--mirror"), std::string::npos);
  }
  try {
    resolve_mirrors("", "ftp://example.org/mnist/");
    FAIL() << "accepted ftp://";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(error.what()).find("NORMTRAIN_MNIST_MIRROR"), std::string::npos);
  }
  EXPECT_NO_THROW(resolve_mirrors("HTTPS://Example.org/mnist", nullptr));
}

TEST(DownloadMirrors, FileUrlToleratesAMissingTrailingSlash) {
  EXPECT_EQ(mirror_file_url("https://a.example/mnist/", "x.gz"), "https://a.example/mnist/x.gz");
  EXPECT_EQ(mirror_file_url("https://a.example/mnist", "x.gz"), "https://a.example/mnist/x.gz");
}

TEST(DownloadMirrors, AcceptsHttpHttpsAndFileUrlsWithSomethingAfterTheScheme) {
  EXPECT_TRUE(is_mirror_url("http://a.example/mnist/"));
  EXPECT_TRUE(is_mirror_url("https://a.example/mnist/"));
  EXPECT_TRUE(is_mirror_url("file:///srv/mnist/"));
  EXPECT_TRUE(is_mirror_url("FILE:///srv/mnist"));
  EXPECT_FALSE(is_mirror_url("https://"));
  EXPECT_FALSE(is_mirror_url("ftp://a.example/mnist/"));
  EXPECT_FALSE(is_mirror_url("/srv/mnist"));
  EXPECT_FALSE(is_mirror_url(" https://a.example/"));
  EXPECT_FALSE(is_mirror_url(""));
}

TEST(DownloadMirrors, TheMessageSaysWhatAMirrorIs) {
  try {
    resolve_mirrors("mnist.example.org", nullptr);
    FAIL() << "accepted a host name";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(),
                 "--mirror 'mnist.example.org' is not a mirror URL: give an http://, https:// or "
                 "file:// URL of a folder that holds the four MNIST .gz files, e.g. "
                 "https://ossci-datasets.s3.amazonaws.com/mnist/ or file:///srv/mnist/");
  }
}

TEST(DownloadMirrors, AGivenMirrorReplacesCustomDefaults) {
  const std::vector<std::string> defaults = {"https://a.example/", "https://b.example/"};
  EXPECT_EQ(resolve_mirrors("", nullptr, defaults), defaults);
  EXPECT_EQ(resolve_mirrors("", "file:///env/", defaults),
            std::vector<std::string>{"file:///env/"});
}

}  // namespace
}  // namespace normtrain
