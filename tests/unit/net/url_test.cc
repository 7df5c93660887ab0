// net::ParseUrl: what --endpoint-url, node and agent configuration and an
// ExecuteCommand answer's streamUrl are read with, and what our own request
// lines and Host headers are then made of.
#include <gtest/gtest.h>

#include "net/http.h"

namespace porthole::net {
namespace {

TEST(ParseUrlTest, ReadsSchemeHostPortAndTarget) {
  auto url = ParseUrl("HTTPS://127.0.0.1:8443/v1/data-channel/s-1?role=publish_subscribe");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->target, "/v1/data-channel/s-1?role=publish_subscribe");
  EXPECT_EQ(url->HostHeader(), "127.0.0.1:8443");
}

TEST(ParseUrlTest, DefaultsPortAndTarget) {
  auto wss = ParseUrl("wss://localhost");
  ASSERT_TRUE(wss.ok());
  EXPECT_EQ(wss->port, 443);
  EXPECT_EQ(wss->target, "/");
  auto query = ParseUrl("http://node-1.internal?x=1");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->port, 80);
  EXPECT_EQ(query->target, "/?x=1");
}

TEST(ParseUrlTest, ReadsIpv6LiteralsAndWritesThemBackBracketed) {
  auto url = ParseUrl("https://[::1]:9000/");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->HostHeader(), "[::1]:9000");
  auto again = ParseUrl("https://" + url->HostHeader() + url->target);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->host, "::1");
}

TEST(ParseUrlTest, RefusesWhatIsNotAUrlWithAClearError) {
  for (const char* text : {"127.0.0.1:443", "ftp://host/", "https://", "https:///path", "https://user@host/",
                           "https://host:0/", "https://host:65536/", "https://host:12ab/", "https://[::1/",
                           "https://[::1]x/"}) {
    auto url = ParseUrl(text);
    EXPECT_FALSE(url.ok()) << text;
    if (!url.ok()) {
      EXPECT_EQ(url.error().code, "InvalidParameterException") << text;
    }
  }
}

// Found by the url fuzzer: such hosts and paths reached the Host header and
// the request line of our own requests, where a CR LF forges a header.
TEST(ParseUrlTest, RefusesHostsAndPathsThatWouldForgeARequest) {
  for (const char* text : {"https://evil\r\nX-Injected: 1/", "https://a b/", "https://[[x]:1/", "https://[x]/",
                           "https://[::1\r\n]/", "https://host\t/", "https://a:b:443/", "https://h%41st/",
                           "https://host/a b", "https://host/a\r\nHost: other", "https://host/\x7f",
                           "https://host/#fragment"}) {
    auto url = ParseUrl(text);
    EXPECT_FALSE(url.ok()) << text;
  }
}

}  // namespace
}  // namespace porthole::net
