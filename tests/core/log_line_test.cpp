#include "core/log_line.h"

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
