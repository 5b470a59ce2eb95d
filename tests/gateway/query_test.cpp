#include "gateway/query.h"

#include <cstdint>
#include <limits>

#include <doctest/doctest.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/errc.h"
#include "gateway/json_text.h"
#include "gateway/problem.h"

namespace caseline::gateway {
namespace {

// The field a failed parse names, typed; "" when it succeeded or named none.
template <class T>
std::string field_of(const result<T>& r) {
  return r ? std::string() : r.error().field;
}

http_request with_query(std::multimap<std::string, std::string> q) {
  http_request req;
  req.method = "GET";
  req.path = "/v1/queues/at_unit";
  req.query = std::move(q);
  return req;
}

TEST_CASE("each bad query parameter is a field error naming it") {
  SUBCASE("unknown parameters") {
    const auto r = known_params(with_query({{"center", "410100"}, {"limt", "5"}}),
                                {"center", "unit", "cursor", "limit"});
    CHECK(field_of(r) == "limt");
    CHECK(known_params(with_query({{"center", "410100"}}), {"center"}));
  }
  SUBCASE("limit") {
    for (const char* bad : {"0", "501", "x", "5x", "-1", " 5"}) {
      CAPTURE(bad);
      CHECK(field_of(parse_limit(bad, 50, 500)) == "limit");
    }
    CHECK(parse_limit("", 50, 500).value() == 50);
    CHECK(parse_limit("500", 50, 500).value() == 500);
  }
  SUBCASE("queue") {
    CHECK(field_of(parse_queue("nope")) == "queue");
    CHECK(parse_queue("at_unit").value() == projections::queue_kind::at_unit);
  }
  SUBCASE("within") {
    for (const char* bad : {"x", "61", "-1", "2.5"}) {
      CAPTURE(bad);
      CHECK(field_of(parse_within(bad)) == "within");
    }
    CHECK(parse_within("").value() == working_days{2});
    CHECK(parse_within("0").value() == working_days{0});
  }
  SUBCASE("report periods") {
    CHECK(field_of(parse_monthly("2026-13", "")) == "month");
    CHECK(field_of(parse_monthly("2026-1", "")) == "month");
    CHECK(field_of(parse_annual("26", "")) == "year");
    CHECK(field_of(parse_period("2026-10-x", "2026-10-05", "")) == "from");
    CHECK(field_of(parse_period("2026-10-01", "", "")) == "to");
    CHECK(field_of(parse_period("2026-10-05", "2026-10-01", "")) == "to");  // backwards
    CHECK(field_of(parse_period("2025-01-01", "2026-01-03", "")) == "to");  // over a year
    CHECK(field_of(parse_urgent("20261014", "")) == "day");
    const auto m = parse_monthly("2026-02", "410100").value();
    CHECK(m.current == projections::period{civil_date{2026, 2, 1}, civil_date{2026, 2, 28}});
    CHECK(m.center == center_code{"410100"});
    CHECK_FALSE(parse_annual("2026", "province").value().center.has_value());
  }
  SUBCASE("the overdue list") {
    CHECK(field_of(parse_overdue("", "2026-11-30", "", "", "", "")) == "from");
    CHECK(field_of(parse_overdue("2026-11-01", "2026-11-30", "", "", "", "0")) == "limit");
    const auto q = parse_overdue("2026-11-01", "2026-11-30", "", "u-zz-gl", "ab", "").value();
    CHECK(q.limit == 100);
    CHECK(q.unit == unit_id{"u-zz-gl"});
    CHECK(q.cursor == "ab");
  }
}

TEST_CASE("a field error becomes the 422 problem naming the field, as it always read") {
  auto body = [](const error& e) { return error_response(e, "/v1/x").body; };
  CHECK(body(parse_limit("0", 50, 500).error()) ==
        R"({"type":"/problems/invalid-field","title":"Invalid field","status":422,)"
        R"("detail":"invalid argument: limit: from 1 to 500","instance":"/v1/x","field":"limit"})");
  CHECK(body(known_params(with_query({{"x", "1"}}), {}).error()) ==
        R"({"type":"/problems/invalid-field","title":"Invalid field","status":422,)"
        R"("detail":"invalid field: x: unknown query parameter","instance":"/v1/x","field":"x"})");
  // A detail whose text looks like a field names none unless the error says so.
  CHECK(body(make_error(errc::invalid_field, "limit: made up")).find("\"field\"") ==
        std::string::npos);
}

TEST_CASE("the one JSON encoder prints rates as the API always did") {
  boost::json::object o;
  o["rate"] = 0.25;
  o["third"] = 2.0 / 3;
  o["one"] = 1.0;
  o["none"] = nullptr;
  o["n"] = std::int64_t{-3};
  o["big"] = std::uint64_t{18446744073709551615ULL};
  o["list"] = boost::json::array{0.0001, 12345.6789, "a\"b\\c\n"};
  o["nested"] = boost::json::object{{"ok", true}};
  CHECK(json_text(o) ==
        R"({"rate":0.25,"third":0.6667,"one":1,"none":null,"n":-3,"big":18446744073709551615,)"
        R"("list":[0.0001,12345.6789,"a\"b\\c\n"],"nested":{"ok":true}})");
}

TEST_CASE("the encoder writes strings, keys and integers byte for byte as boost::json does") {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  boost::json::object o;
  o["all"] = every_byte;
  o[every_byte.substr(0, 40)] = "key with control characters";
  o["utf8"] = "\u6cb3\u5357 12328";
  o["ints"] = boost::json::array{std::int64_t{-9223372036854775807LL - 1},
                                 std::int64_t{0},
                                 std::uint64_t{42},
                                 true,
                                 false,
                                 nullptr,
                                 ""};
  CHECK(json_text(o) == boost::json::serialize(o));
  CHECK(json_text(boost::json::value(every_byte)) ==
        boost::json::serialize(boost::json::value(every_byte)));
}

TEST_CASE("the encoder finds every byte to escape wherever it falls in a word of eight") {
  // The encoder looks at eight bytes at a time: each byte that must be escaped, and its plain
  // neighbours (0x20, 0x7f, UTF-8 bytes), at every place in strings of 0 to 24 bytes.
  std::string probes;
  for (int c = 0; c < 0x21; ++c) probes += static_cast<char>(c);
  probes += "\"\\\x7f\x80\xe6\xff!#[]";
  for (std::size_t length = 0; length <= 24; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (const char probe : probes) {
        std::string s(length, 'a');
        s[at] = probe;
        s[length - 1 - at] = probe;  // a second one, from the other end
        const boost::json::value v(s);
        REQUIRE(json_text(v) == boost::json::serialize(v));
      }
  std::string plain(1000, 'x');
  plain[999] = '\n';
  const boost::json::value long_run(plain);
  CHECK(json_text(long_run) == boost::json::serialize(long_run));
}

TEST_CASE("the writer writes what json_text writes for the same value, commas and nesting alike") {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  json_writer w;
  w.begin_object().key("all").str(every_byte).key(every_byte.substr(0, 40)).str("k");
  w.key("empty").begin_array().end_array().key("none").begin_object().end_object();
  w.key("items").begin_array();
  for (int i = 0; i < 3; ++i)
    w.begin_object().key("n").num(i - 1).key("ok").boolean(i == 1).key("x").null().end_object();
  w.end_array().key("min").num(std::numeric_limits<std::int64_t>::min()).end_object();
  const std::string text = w.take();
  boost::json::object o;
  o["all"] = every_byte;
  o[every_byte.substr(0, 40)] = "k";
  o["empty"] = boost::json::array{};
  o["none"] = boost::json::object{};
  boost::json::array items;
  for (int i = 0; i < 3; ++i)
    items.emplace_back(boost::json::object{{"n", i - 1}, {"ok", i == 1}, {"x", nullptr}});
  o["items"] = std::move(items);
  o["min"] = std::numeric_limits<std::int64_t>::min();
  CHECK(text == json_text(o));
}

}  // namespace
}  // namespace caseline::gateway
