#include "common/crypto.h"

#include <gtest/gtest.h>

namespace porthole::crypto {
namespace {

TEST(CryptoTest, Sha256OfAbcIsTheFipsVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, Base64RoundTripsAndRejectsGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value(), s);
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(CryptoTest, SealedSecretsOpenOnlyWithTheirKeyAndUnaltered) {
  std::string key = RandomBytes(32);
  std::string sealed = AesGcmSeal(key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(sealed.find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_EQ(AesGcmOpen(key, sealed).value(), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_FALSE(AesGcmOpen(RandomBytes(32), sealed).has_value());
  std::string altered = sealed;
  altered[14] ^= 1;
  EXPECT_FALSE(AesGcmOpen(key, altered).has_value());
  EXPECT_FALSE(AesGcmOpen(key, "short").has_value());
  // Two seals of the same secret differ (fresh nonce).
  EXPECT_NE(AesGcmSeal(key, "x"), AesGcmSeal(key, "x"));
}

}  // namespace
}  // namespace porthole::crypto
