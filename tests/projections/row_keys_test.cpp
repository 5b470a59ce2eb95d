#include "projections/row_keys.h"

#include "projections/case_projection.h"

#include <string>

#include <doctest/doctest.h>

namespace caseline::projections::keys {

namespace {

using namespace std::string_literals;

civil_date day(int y, unsigned m, unsigned d) { return civil_date{y, m, d}; }

}  // namespace

// The bytes are pinned: stores written before these codecs existed must read the same.
TEST_CASE("each key family keeps its stored bytes and reads back what it encoded") {
  SUBCASE("offsets") {
    const offset k{258};
    CHECK(k.encode() == "log/\0\0\x01\x02"s);
    REQUIRE(offset::decode(k.encode()));
    CHECK(offset::decode(k.encode())->partition == 258);
    CHECK_FALSE(offset::decode("log/\0\0\x01"s));
    CHECK_FALSE(offset::decode("log/\0\0\x01\x02\x03"s));
    CHECK_FALSE(offset::decode("off/\0\0\x01\x02"s));
  }
  SUBCASE("case rows: day of receipt, case id") {
    CHECK(case_row::encode("410100-20240105-000001") ==
          "20240105\0"
          "410100-20240105-000001\0"s);
    const auto d = case_row::decode(case_row::encode("410100-20240105-000001"));
    REQUIRE(d);
    CHECK(d->case_id == "410100-20240105-000001");
    // An id of another form has no day; a day that is not the id's, a missing terminator or
    // anything after it is not a key of this family (a raw id, as layouts before 8 kept it).
    CHECK(case_row::encode("c-1") == "\0c-1\0"s);
    REQUIRE(case_row::decode("\0c-1\0"s));
    CHECK(case_row::decode("\0c-1\0"s)->case_id == "c-1");
    CHECK_FALSE(
        case_row::decode("20240106\0"
                         "410100-20240105-000001\0"s));
    CHECK_FALSE(
        case_row::decode("20240105\0"
                         "410100-20240105-000001"s));
    CHECK_FALSE(
        case_row::decode("20240105\0"
                         "410100-20240105-000001\0x"s));
    CHECK_FALSE(case_row::decode("410100-20240105-000001"));
    // A case's history rows begin with its row's key.
    CHECK(case_history::prefix("410100-20240105-000001") ==
          case_row::encode("410100-20240105-000001"));
  }
  SUBCASE("case events: day of receipt, case id, sequence") {
    const case_history k{"410100-20240105-000001", 256};
    CHECK(k.encode() ==
          "20240105\0"
          "410100-20240105-000001\0\0\0\0\0\0\0\x01\x00"s);
    CHECK(case_history::prefix("410100-20240105-000001") ==
          "20240105\0"
          "410100-20240105-000001\0"s);
    const auto d = case_history::decode(k.encode());
    REQUIRE(d);
    CHECK(d->case_id == k.case_id);
    CHECK(d->sequence == 256);
    // An id of another form has no day: its rows begin with an empty field.
    CHECK(case_history{"c-1", 2}.encode() == "\0c-1\0\0\0\0\0\0\0\0\x02"s);
    CHECK(case_history{"ZZ-2024010X-000001", 1}.encode().starts_with("\0"s));
    REQUIRE(case_history::decode(case_history{"c-1", 2}.encode()));
    // A day that is not the id's is not a key of this family.
    CHECK_FALSE(
        case_history::decode("20240106\0"
                             "410100-20240105-000001\0\0\0\0\0\0\0\0\x01"s));
    CHECK_FALSE(
        case_history::decode("20240105\0"
                             "410100-20240105-000001\0\0\x01"s));
    CHECK_FALSE(case_history::decode("no separator"));
    // The prefix the family's filters hold is the case's, whatever the sequence's bytes.
    for (const std::uint64_t seq :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{256}, ~std::uint64_t{0}})
      for (const std::string id : {"410100-20240105-000001", "c-1", ""}) {
        const std::string key = case_history{id, seq}.encode();
        const auto p = case_history::prefix_of(key);
        REQUIRE(p);
        CHECK(*p == case_history::prefix(id));
      }
    const std::string prefix = case_history::prefix("c-1");
    CHECK(case_history::prefix_of(prefix) == prefix);
    CHECK_FALSE(case_history::prefix_of("20240105\0no second zero"s));
    CHECK_FALSE(case_history::prefix_of("no separator"));
  }
  SUBCASE("retention: case id, sequence") {
    const case_sequence k{"ZZ-20240105-000001", 256};
    CHECK(k.encode() == "ZZ-20240105-000001\0\0\0\0\0\0\0\x01\x00"s);
    CHECK(case_sequence::prefix("ZZ-20240105-000001") == "ZZ-20240105-000001\0"s);
    const auto d = case_sequence::decode(k.encode());
    REQUIRE(d);
    CHECK(d->case_id == k.case_id);
    CHECK(d->sequence == 256);
    CHECK_FALSE(case_sequence::decode("no separator"));
  }
  SUBCASE("revisit tallies") {
    const revisit_tally k{3, "ZZ", "2024-01"};
    CHECK(k.encode() == "revisit/3/ZZ/2024-01");
    const auto d = revisit_tally::decode(k.encode());
    REQUIRE(d);
    CHECK(d->partition == 3);
    CHECK(d->center == "ZZ");
    CHECK(d->month == "2024-01");
    CHECK_FALSE(revisit_tally::decode("revisit/x/ZZ/2024-01"));
  }
  SUBCASE("idempotency") {
    const idempotency k{"tok", "key-1"};
    CHECK(k.encode() == "tok\0key-1"s);
    const auto d = idempotency::decode(k.encode());
    REQUIRE(d);
    CHECK(d->token_id == "tok");
    CHECK(d->key == "key-1");
  }
  SUBCASE("case index") {
    const case_index k{"cZZ", day(2024, 1, 5), "ZZ-20240105-000001"};
    CHECK(k.encode() == "cZZ\00020240105\0ZZ-20240105-000001"s);
    CHECK(case_index::prefix("cZZ") == "cZZ\0"s);
    CHECK(case_index::from_day("cZZ", day(2024, 1, 5)) == "cZZ\00020240105"s);
    const auto d = case_index::decode(k.encode());
    REQUIRE(d);
    CHECK(d->scope == "cZZ");
    CHECK(d->received_on == day(2024, 1, 5));
    CHECK(d->case_id == "ZZ-20240105-000001");
    CHECK_FALSE(case_index::decode("cZZ\00020241305\0id"s));
  }
  SUBCASE("registry") {
    CHECK(registry::unit("U1") == "unit/U1");
    CHECK(registry::year(2025) == "calendar/year/2025");
  }
  SUBCASE("access log") {
    const access k{0x0102, 7, "tok", "corr"};
    CHECK(k.encode() == "\0\0\0\0\0\0\x01\x02\0\0\0\0\0\0\0\x07tok\0corr"s);
    const auto d = access::decode(k.encode());
    REQUIRE(d);
    CHECK(d->at_ms == 0x0102);
    CHECK(d->sequence == 7);
    CHECK(d->token_id == "tok");
    CHECK(d->correlation_id == "corr");
  }
  SUBCASE("queues") {
    const queue k{"at_unit", "u:U1", true, day(2024, 1, 5), "ZZ-20240105-000001"};
    CHECK(k.encode() ==
          "at_unit\0u:U1\0"
          "02024-01-05\0ZZ-20240105-000001"s);
    CHECK(queue::prefix("at_unit", "u:U1") == "at_unit\0u:U1\0"s);
    const auto d = queue::decode(k.encode());
    REQUIRE(d);
    CHECK(d->queue_name == "at_unit");
    CHECK(d->scope == "u:U1");
    CHECK(d->major_urgent);
    CHECK(d->due == day(2024, 1, 5));
    CHECK(d->case_id == "ZZ-20240105-000001");
    CHECK_FALSE(
        queue::decode("at_unit\0u:U1\0"
                      "22024-01-05\0id"s));
  }
  SUBCASE("deadline index and reminders") {
    const deadline k{"*", day(2024, 1, 5), "reply", "ZZ-20240105-000001"};
    CHECK(k.encode() ==
          "*\0"
          "2024-01-05\0reply\0ZZ-20240105-000001"s);
    CHECK(deadline::prefix("*") == "*\0"s);
    const remind r{day(2024, 1, 5), "reply", "ZZ-20240105-000001"};
    CHECK(r.encode() == "2024-01-05\0reply\0ZZ-20240105-000001"s);
    const auto d = deadline::decode(k.encode());
    REQUIRE(d);
    CHECK(d->scope == "*");
    CHECK(d->due == day(2024, 1, 5));
    CHECK(d->kind == "reply");
    CHECK(d->case_id == "ZZ-20240105-000001");
    const auto dr = remind::decode(r.encode());
    REQUIRE(dr);
    CHECK(dr->case_id == "ZZ-20240105-000001");
    CHECK_FALSE(remind::decode("2024-01-5\0reply\0id"s));
  }
}

TEST_CASE("keys of a family sort in the order their readers page through") {
  // Queues: major-urgent first, then by date, then by case id.
  const auto q = [](bool urgent, civil_date due, std::string id) {
    return queue{"at_unit", "u:U1", urgent, due, std::move(id)}.encode();
  };
  CHECK(q(true, day(2024, 3, 1), "b") < q(false, day(2024, 1, 1), "a"));
  CHECK(q(false, day(2024, 1, 1), "b") < q(false, day(2024, 1, 2), "a"));
  CHECK(q(false, day(2024, 1, 1), "a") < q(false, day(2024, 1, 1), "b"));
  // Events of a case by sequence, whatever the number of digits.
  CHECK(case_sequence{"c", 9}.encode() < case_sequence{"c", 10}.encode());
  CHECK(case_sequence{"c", 255}.encode() < case_sequence{"c", 256}.encode());
  CHECK(case_history{"c", 255}.encode() < case_history{"c", 256}.encode());
  // Histories by day of receipt first, whatever the center: the keys a rebuild or a day's
  // intake writes follow each other instead of landing in every center's range.
  CHECK(case_history{"419900-20240105-000009", 7}.encode() <
        case_history{"410100-20240106-000001", 1}.encode());
  CHECK(case_history{"410100-20240105-000002", 1}.encode() <
        case_history{"419900-20240105-000001", 1}.encode());
  // One case's rows are all under its prefix, and no other case's are.
  CHECK(case_history{"410100-20240105-000001", 9}.encode().starts_with(
      case_history::prefix("410100-20240105-000001")));
  CHECK_FALSE(case_history{"410100-20240105-0000011", 1}.encode().starts_with(
      case_history::prefix("410100-20240105-000001")));
  // Offsets by partition; the access log by time.
  CHECK(offset{1}.encode() < offset{256}.encode());
  CHECK(access{255, 9, "z", ""}.encode() < access{256, 0, "a", ""}.encode());
  // The case list of a day before the next day's.
  CHECK(case_index{"*", day(2024, 1, 31), "z"}.encode() <
        case_index{"*", day(2024, 2, 1), "a"}.encode());
}

// The report counters' keys as reports.cpp wrote them with text concatenation before this
// codec: the literals below are those bytes.
TEST_CASE("the report counters' keys keep their stored bytes and read back what they encoded") {
  const civil_date nov3 = day(2026, 11, 3);
  SUBCASE("a center's figures, by month and by day: one key of cells for all its metrics") {
    const report_figure m{report_span::month, nov3, "410100", "road_transport", "complaint"};
    CHECK(m.encode() == "m/2026-11/410100/road_transport/complaint/");
    const report_figure d{report_span::day, nov3, "410100", "unclassified", "unclassified"};
    CHECK(d.encode() == "d/2026-11-03/410100/unclassified/unclassified/");
    const auto dm = report_figure::decode(m.encode());
    REQUIRE(dm);
    CHECK(dm->span == report_span::month);
    CHECK(dm->on == day(2026, 11, 1));  // a month reads back as its first day
    CHECK(dm->center == "410100");
    CHECK(dm->domain == "road_transport");
    CHECK(dm->category == "complaint");
    const auto dd = report_figure::decode(d.encode());
    REQUIRE(dd);
    CHECK(dd->span == report_span::day);
    CHECK(dd->on == nov3);
    CHECK(dd->category == "unclassified");
    CHECK_FALSE(report_figure::decode("m/2026-11/410100/road_transport"));
    CHECK_FALSE(report_figure::decode("m/2026-11/410100/road_transport/complaint"));
    // A key of the layout before cells (one key per metric) is not a figure key.
    CHECK_FALSE(report_figure::decode("m/2026-11/410100/road_transport/complaint/received"));
    CHECK_FALSE(report_figure::decode("m/2026-13/410100/a/b/"));
    CHECK_FALSE(report_figure::decode("um/2026-11/410100/u/"));
  }
  SUBCASE("a unit's figures: the unit runs to the key's last '/'") {
    const report_unit_figure k{report_span::day, nov3, "410100", "zz-transit"};
    CHECK(k.encode() == "ud/2026-11-03/410100/zz-transit/");
    CHECK(report_unit_figure{report_span::month, nov3, "410100", "zz-transit"}.encode() ==
          "um/2026-11/410100/zz-transit/");
    const auto d = report_unit_figure::decode(k.encode());
    REQUIRE(d);
    CHECK(d->span == report_span::day);
    CHECK(d->center == "410100");
    CHECK(d->unit == "zz-transit");
    const auto slash = report_unit_figure::decode("um/2026-11/410100/port/east/");
    REQUIRE(slash);
    CHECK(slash->unit == "port/east");
    CHECK_FALSE(report_unit_figure::decode("ud/2026-11-03/410100/"));
    CHECK_FALSE(report_unit_figure::decode("ud/2026-11-03/410100/zz-transit"));
  }
  SUBCASE("topics: the topic is the rest, '/' and all") {
    const report_topic k{report_span::month, nov3, "410100", "bus/stop"};
    CHECK(k.encode() == "tm/2026-11/410100/bus/stop");
    CHECK(report_topic{report_span::day, nov3, "410100", "出租车"}.encode() ==
          "td/2026-11-03/410100/出租车");
    const auto d = report_topic::decode(k.encode());
    REQUIRE(d);
    CHECK(d->center == "410100");
    CHECK(d->topic == "bus/stop");
  }
  SUBCASE("matters flagged major-urgent") {
    const report_urgent k{nov3, "410100", "410100-20261103-000001"};
    CHECK(k.encode() == "u/2026-11-03/410100/410100-20261103-000001");
    CHECK(report_urgent::prefix(nov3) == "u/2026-11-03/");
    const auto d = report_urgent::decode(k.encode());
    REQUIRE(d);
    CHECK(d->flagged_on == nov3);
    CHECK(d->center == "410100");
    CHECK(d->case_id == "410100-20261103-000001");
  }
  SUBCASE("matters reported overdue (Art. 35)") {
    const report_overdue k{nov3, "410100", "zz-transit", "410100-20261020-000007",
                           day(2026, 11, 2)};
    CHECK(k.encode() == "o/2026-11-03/410100/zz-transit/410100-20261020-000007/2026-11-02");
    CHECK(report_overdue::from_day(nov3) == "o/2026-11-03/");
    const auto d = report_overdue::decode(k.encode());
    REQUIRE(d);
    CHECK(d->reported_on == nov3);
    CHECK(d->center == "410100");
    CHECK(d->unit == "zz-transit");
    CHECK(d->case_id == "410100-20261020-000007");
    CHECK(d->due == day(2026, 11, 2));
    CHECK_FALSE(report_overdue::decode("o/2026-11-03/410100/zz-transit/410100-20261020-000007"));
    CHECK_FALSE(report_overdue::decode("o/2026-11-03/410100/zz-transit/x/2026-11-02/extra"));
  }
  SUBCASE("a period's prefix bounds its keys") {
    CHECK(report_period(counter_kind::figure, report_span::month, nov3) == "m/2026-11/");
    CHECK(report_period(counter_kind::topic, report_span::day, nov3) == "td/2026-11-03/");
    CHECK(report_period(counter_kind::unit_figure, report_span::month, nov3) == "um/2026-11/");
    CHECK(report_tag(counter_kind::figure, report_span::day) == "d/");
    const std::string key = report_figure{report_span::day, nov3, "4", "a", "b"}.encode();
    CHECK(report_period(counter_kind::figure, report_span::day, nov3) <= key);
    CHECK(key < report_period(counter_kind::figure, report_span::day, day(2026, 11, 4)));
  }
}

}  // namespace caseline::projections::keys

namespace caseline::projections {

// Ids are part of stored keys and of what callers were told: their form is pinned.
TEST_CASE("a case id is its center, its day and a sequence of six digits at least") {
  CHECK(format_case_id("410100", civil_date{2026, 1, 5}, 1) == "410100-20260105-000001");
  CHECK(format_case_id("410100", civil_date{2026, 12, 31}, 0) == "410100-20261231-000000");
  CHECK(format_case_id("11", civil_date{999, 9, 9}, 999999) == "11-09990909-999999");
  CHECK(format_case_id("410100", civil_date{12028, 10, 10}, 1234567) == "410100-120281010-1234567");
  CHECK(format_case_id("410100", civil_date{2026, 1, 5}, 18446744073709551615ULL) ==
        "410100-20260105-18446744073709551615");
  CHECK(format_case_id("410100", civil_date{-1, 1, 1}, 7) == "410100--0010101-000007");
  std::string id = "410100-20260105-";
  append_case_sequence(id, 42);
  CHECK(id == "410100-20260105-000042");
  const auto split = split_case_id(format_case_id("410100", civil_date{2026, 1, 5}, 1000000));
  REQUIRE(split);
  CHECK(split->first == "410100-20260105");
  CHECK(split->second == 1000000);
}

}  // namespace caseline::projections
