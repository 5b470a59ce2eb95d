#include "events/field_crypto.h"

#include <ostream>

#include <doctest/doctest.h>

#include "events/errc.h"

using namespace caseline;
using namespace caseline::events;

TEST_CASE("a sealed field opens with its key at its place, and only there") {
  const auto key = secret_key::random();
  const std::string plain = "张三 13800000000 公交车不停站";
  const std::string sealed = seal_field(key, "410100-20261129-000001", "410100-20261129-000001#1",
                                        "content", plain);
  CHECK(is_sealed_field(sealed));
  CHECK(sealed.find(plain) == std::string::npos);
  CHECK(sealed.find("13800000000") == std::string::npos);
  auto opened = open_field(key, "410100-20261129-000001", "content", sealed,
                           "410100-20261129-000001#1");
  REQUIRE(opened);
  CHECK(opened.value() == plain);

  SUBCASE("a fresh nonce each time") {
    CHECK(seal_field(key, "c", "c#1", "content", plain) !=
          seal_field(key, "c", "c#1", "content", plain));
  }
  SUBCASE("another case, field or event does not verify") {
    CHECK(open_field(key, "410100-20261129-000002", "content", sealed).error().code ==
          errc::corrupt_record);
    CHECK(open_field(key, "410100-20261129-000001", "caller.name", sealed).error().code ==
          errc::corrupt_record);
    CHECK(open_field(key, "410100-20261129-000001", "content", sealed, "410100-20261129-000001#2")
              .error()
              .code == errc::corrupt_record);
  }
  SUBCASE("another key does not verify") {
    CHECK(open_field(secret_key::random(), "410100-20261129-000001", "content", sealed)
              .error()
              .code == errc::corrupt_record);
  }
  SUBCASE("any flipped byte of the ciphertext or tag fails") {
    for (std::size_t i = 3 + 24; i < sealed.size(); ++i) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      CHECK_FALSE(open_field(key, "410100-20261129-000001", "content", bad));
    }
  }
  SUBCASE("plain text is not taken for a sealed field") {
    CHECK_FALSE(is_sealed_field(plain));
    CHECK(open_field(key, "c", "content", plain).error().code == errc::corrupt_record);
  }
}

TEST_CASE("empty text stays empty; keys parse from 64 hex digits only") {
  const auto key = secret_key::random();
  CHECK(seal_field(key, "c", "c#1", "content", "").empty());
  CHECK(open_field(key, "c", "content", "").value().empty());
  CHECK(secret_key::from_hex(std::string(64, 'a')));
  CHECK(secret_key::from_hex(std::string(64, 'a') + "\n"));
  CHECK_FALSE(secret_key::from_hex(std::string(63, 'a')));
  CHECK_FALSE(secret_key::from_hex(std::string(63, 'a') + "g"));
}
