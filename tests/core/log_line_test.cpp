#include "core/log_line.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

using namespace caseline;

TEST_CASE("a log line is one JSON object whatever its values hold") {
  const std::string hostile = "a \"quoted\" \\ value\nwith a new line\x01 and \xff\xfe bytes";
  const std::string line = log_line("checkpoint_failed", {{"error", hostile},
                                                          {"count", 3},
                                                          {"ok", true},
                                                          {"big", std::uint64_t{1} << 63}});
  CHECK(line.find('\n') == std::string::npos);
  boost::system::error_code ec;
  const auto v = boost::json::parse(line, ec);
  REQUIRE_MESSAGE(!ec, line);
  const auto& o = v.as_object();
  CHECK(o.at("event").as_string() == "checkpoint_failed");
  CHECK(o.at("count").as_int64() == 3);
  CHECK(o.at("ok").as_bool());
  CHECK(o.at("big").as_uint64() == (std::uint64_t{1} << 63));
  const std::string error(o.at("error").as_string());
  CHECK(error.starts_with("a \"quoted\" \\ value\nwith a new line\x01 and "));
  CHECK(error.find("\xEF\xBF\xBD\xEF\xBF\xBD") != std::string::npos);  // U+FFFD twice
}

TEST_CASE("invalid UTF-8 is replaced, valid UTF-8 is kept") {
  CHECK(valid_utf8("公交车") == "公交车");
  CHECK(valid_utf8("\xff") == "\xEF\xBF\xBD");
  CHECK(valid_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");          // overlong '/'
  CHECK(valid_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(valid_utf8("\xE5\x85") == "\xEF\xBF\xBD\xEF\xBF\xBD");          // truncated
  CHECK(valid_utf8("\xF4\x90\x80\x80").find("\xF4") == std::string::npos);  // above U+10FFFF
}

TEST_CASE("any bytes quoted read back as their valid UTF-8, with only escapes below 0x20") {
  // Byte strings drawn from pieces that stress each path: printable runs, every escape,
  // control characters and DEL, valid sequences of two to four bytes, and invalid ones.
  const std::vector<std::string> pieces = {"plain text ",
                                           "\"",
                                           "\\",
                                           "\n",
                                           "\r",
                                           "\t",
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "/",
                                           "\xC2\xA9",
                                           "公交",
                                           "\xF0\x9F\x9A\x8C",
                                           "\xff",
                                           "\xC0\xAF",
                                           "\xED\xA0\x80",
                                           "\xE5\x85",
                                           "\xF4\x90\x80\x80",
                                           "\x80",
                                           "x"};
  std::uint64_t state = 12328;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(state >> 33);
  };
  for (int round = 0; round < 2000; ++round) {
    std::string raw;
    const std::size_t n = next() % 12;
    for (std::size_t i = 0; i < n; ++i) raw += pieces[next() % pieces.size()];
    const std::string quoted = json_quoted(raw);
    for (const char c : quoted) REQUIRE(static_cast<unsigned char>(c) >= 0x20);
    REQUIRE(quoted.find('\x7f') == std::string::npos);
    boost::system::error_code ec;
    const auto v = boost::json::parse(quoted, ec);
    REQUIRE_MESSAGE(!ec, quoted);
    CHECK(std::string(v.as_string()) == valid_utf8(raw));
    // A field of a line reads back the same, as do its name and the event.
    const std::string line = log_line(raw, {{raw, raw}, {"n", std::int64_t{-42}}});
    const auto o = boost::json::parse(line, ec);
    REQUIRE_MESSAGE(!ec, line);
    CHECK(std::string(o.at("event").as_string()) == valid_utf8(raw));
    if (valid_utf8(raw) != "event" && valid_utf8(raw) != "n")
      CHECK(std::string(o.at(valid_utf8(raw)).as_string()) == valid_utf8(raw));
    CHECK(o.at("n").as_int64() == -42);
  }
}

TEST_CASE("numbers in a log line keep their value at the limits of their type") {
  const std::string line = log_line("limits", {{"min", std::numeric_limits<std::int64_t>::min()},
                                               {"max", std::numeric_limits<std::uint64_t>::max()},
                                               {"zero", 0},
                                               {"small", std::int8_t{-7}},
                                               {"ratio", 0.25},
                                               {"nan", std::numeric_limits<double>::quiet_NaN()}});
  CHECK(line ==
        R"({"event":"limits","min":-9223372036854775808,"max":18446744073709551615,"zero":0,)"
        R"("small":-7,"ratio":0.25,"nan":null})");
}
