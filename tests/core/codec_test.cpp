#include "core/codec.h"

#include <doctest/doctest.h>

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "core/binary.h"
#include "core/decide.h"
#include "core/errc.h"
#include "tests/core/test_support.h"

using namespace caseline;
using namespace caseline::core;

// Golden files: tests/core/golden/<type id, 2 digits>-<name>.v<version>.bin hold the cereal body
// of one sample per event type and version. They must decode forever. CASELINE_WRITE_GOLDEN=1
// writes the files of the current versions that do not exist yet; it never overwrites one (an
// existing file that no longer matches is a compatibility break, not something to regenerate).

namespace {

const user_id agent{"u-agent-7"};
const deadline_basis official{false, "5c1f0e9a3b7d2468"};
const deadline_basis provisional{true, "5c1f0e9a3b7d2468"};

case_received sample_received() {
  return case_received{channel::wechat, center_code{"410100"},
                       caller_info{"13800000000", "张三", "wx-o6_bmjrPTlm6_2sgVt7hMZOPfL2M"},
                       "高速收费站乱收费", recording_ref{"blob://recordings/0001", std::string(64, 'a'), 95},
                       civil_date{2026, 9, 30}, civil_date{2026, 10, 10},
                       case_id{"410100-20260930-000001"}, agent, official, category::complaint,
                       domain::highway, timestamp{1'759'190'400'000}};  // 2025-09-30T08:00+08:00
}

// The samples of versions before the current one, as their golden files hold them.
transferred sample_transferred_v1() {
  return transferred{unit_id{"u-410000-gs"}, center_code{"410000"}, civil_date{2026, 10, 9},
                     civil_date{2026, 10, 12}, working_days{30}, civil_date{2026, 11, 20}, true,
                     agent, {}, {}};
}
transferred sample_transferred_v2() {
  return transferred{unit_id{"u-410000-gs"}, center_code{"410000"}, civil_date{2026, 10, 9},
                     civil_date{2026, 10, 12}, working_days{30}, civil_date{2026, 11, 20}, true,
                     agent, official, provisional};
}
returned sample_returned_v1() {
  return returned{unit_id{"u-410100-yg"}, "不属本单位职责", civil_date{2026, 10, 9}, true,
                  user_id{"u-unit-1"}};
}
extended sample_extended_v1() {
  return extended{"u-head-1", extension_reason::appraisal, working_days{10}, "需技术鉴定",
                  civil_date{2026, 11, 20}, civil_date{2026, 12, 4}, user_id{"u-unit-1"}, {},
                  {}, false};
}
extended sample_extended_v2() {
  extended e = sample_extended_v1();
  e.reply_basis = deadline_basis{true, "5c1f0e9a3b7d2468"};
  return e;
}
extended sample_extended_v3() {
  extended e = sample_extended_v2();
  e.reply_basis = provisional;
  e.approved_by_sealed = true;
  return e;
}
unit_registered sample_unit_registered_v1() {
  return unit_registered{unit_id{"u-410100-yg"}, "郑州市运管处", center_code{"410100"},
                         unit_contact{"李四", "13900000000", "ops@example.cn", "0371-00000000"},
                         false};
}
revisited sample_revisited_v1() {
  return revisited{true, satisfaction::basically_satisfied, timeliness::too_slow, true, "要求退费",
                   civil_date{2026, 10, 9}, civil_date{2026, 11, 23}, user_id{"u-rv-1"},
                   working_days{0}, {}};
}

std::vector<event> current_samples() {
  const civil_date d{2026, 10, 9};
  return {
      sample_received(),
      answered_immediately{"12328 服务时间为全天", d, agent, true},
      not_accepted{not_accepted_reason::handled_by_other_body, "已由法院受理", d, agent},
      redirected{redirect_target::rail, "12306", true, d, agent},
      classified{category::complaint,
                 domain::highway,
                 {"收费", "服务区"},
                 true,
                 center_code{"410000"},
                 agent},
      transferred{unit_id{"u-410000-gs"}, center_code{"410000"}, d, civil_date{2026, 10, 12},
                  working_days{30}, civil_date{2026, 11, 13}, true, agent, official, provisional,
                  civil_date{2026, 9, 30}},
      escalated{escalation_target::upper_center, escalation_reason::cross_region,
                center_code{"410100"}, center_code{"410000"}, "涉及郑州、开封", agent},
      returned{unit_id{"u-410100-yg"}, "不属本单位职责", d, true, user_id{"u-shift-1"},
               "单位逾期退回，经核确非其职责"},
      extended{"token:8f3a2c1b9d4e", extension_reason::appraisal, working_days{10}, "",
               civil_date{2026, 11, 20}, civil_date{2026, 12, 4}, user_id{"token:8f3a2c1b9d4e"},
               provisional, user_id{"token:1a2b3c4d5e6f"}},
      reminded{deadline_kind::reply, civil_date{2026, 11, 20}, civil_date{2026, 11, 23},
               unit_id{"u-410000-gs"}, agent},
      replied{"经查属实", "现场核查", "《收费公路管理条例》第五十二条", true, d, true, true,
              user_id{"u-unit-1"}},
      revisited{true, satisfaction::basically_satisfied, timeliness::too_slow, true, "要求退费", d,
                civil_date{2026, 11, 23}, user_id{"u-rv-1"}, working_days{30}, official},
      archived{d, agent},
      flagged_major_urgent{"多车追尾，道路中断", d, agent},
      recording_purged{std::string(64, 'a'), civil_date{2027, 9, 30}, civil_date{2027, 10, 8},
                       agent},
      text_shredded{civil_date{2031, 10, 9}, civil_date{2031, 10, 10}, agent},
      legal_hold_placed{"行政诉讼中", d, agent},
      legal_hold_lifted{"诉讼终结", civil_date{2027, 3, 1}, agent},
      purge_refused{retained_item::text, "retention not over (Art. 38)", civil_date{2031, 10, 9},
                    civil_date{2027, 3, 2}, agent},
      deadline_revised{deadline_kind::reply, civil_date{2027, 2, 9}, civil_date{2027, 2, 12},
                       deadline_basis{false, "0b9d4e2a71c3f580"}, civil_date{2026, 12, 8},
                       user_id{"caseline-calendar"}},
      extension_requested{extension_reason::appraisal, working_days{10}, "需技术鉴定",
                          civil_date{2026, 11, 18}, user_id{"token:1a2b3c4d5e6f"}},
      overdue_reported{civil_date{2026, 11, 9}, civil_date{2026, 11, 10}, unit_id{"u-410100-yg"},
                       center_code{"410100"}, user_id{"caseline-scheduler"}},
  };
}

std::vector<registry_event> registry_samples() {
  return {unit_registered{unit_id{"u-410100-yg"}, "郑州市运管处", center_code{"410100"},
                          unit_contact{"李四", "13900000000", "ops@example.cn", "0371-00000000"}},
          calendar_year_published{2027,
                                  "year 2027 covered https://www.gov.cn/example\n"
                                  "2027-01-01 holiday 元旦\n"
                                  "2027-02-06 makeup_workday 春节\n",
                                  civil_date{2026, 12, 8}, user_id{"u-admin"}},
          token_issued{"3f2a9c1b7d4e",
                       "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8", "unit",
                       center_code{"410100"}, "u-410100-yg", timestamp{1764806400000},
                       timestamp{1767398400000}},
          token_revoked{"3f2a9c1b7d4e", timestamp{1764892800000}}};
}

std::string golden_dir() { return core::testing::source_dir() + "/tests/core/golden"; }

std::string file_name(std::uint16_t type_id, std::uint16_t version) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%02u-%s.v%u.bin", unsigned{type_id},
                std::string(event_name(type_id)).c_str(), unsigned{version});
  return buf;
}

std::optional<std::string> read_golden(const std::string& name) {
  std::ifstream in(golden_dir() + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The golden file `name` decoded as version `version` of the case event type `type_id`.
event golden_event(const std::string& name, std::uint16_t type_id, std::uint16_t version) {
  auto bytes = read_golden(name);
  REQUIRE_MESSAGE(bytes, "no golden file " << name);
  auto decoded = decode(type_id, version, *bytes);
  REQUIRE_MESSAGE(decoded, (decoded ? std::string{} : decoded.error().message()));
  return std::move(decoded).value();
}

// Writes a missing golden file in generator mode; returns its bytes, or nullopt if it is missing
// and may not be written.
std::optional<std::string> golden_or_write(const encoded_event& enc) {
  const std::string name = file_name(enc.type_id, enc.version);
  if (auto bytes = read_golden(name)) return bytes;
  const char* write = std::getenv("CASELINE_WRITE_GOLDEN");
  if (write == nullptr || std::string_view(write) != "1") return std::nullopt;
  std::ofstream(golden_dir() + "/" + name, std::ios::binary) << enc.bytes;
  MESSAGE("wrote golden file " << name);
  return enc.bytes;
}

}  // namespace

TEST_CASE("every event type's current version decodes from its golden file") {
  for (const event& sample : current_samples()) {
    const encoded_event enc = encode(sample);
    CAPTURE(event_name(enc.type_id));
    auto bytes = golden_or_write(enc);
    REQUIRE_MESSAGE(bytes, "missing golden file " << file_name(enc.type_id, enc.version));
    auto decoded = decode(enc.type_id, enc.version, *bytes);
    REQUIRE(decoded);
    CHECK(decoded.value() == sample);
    CHECK(*bytes == enc.bytes);  // the encoding itself is stable
  }
  for (const registry_event& sample : registry_samples()) {
    const encoded_event enc = encode(sample);
    CAPTURE(event_name(enc.type_id));
    auto bytes = golden_or_write(enc);
    REQUIRE(bytes);
    auto decoded = decode_registry_event(enc.type_id, enc.version, *bytes);
    REQUIRE(decoded);
    CHECK(decoded.value() == sample);
    CHECK(*bytes == enc.bytes);
  }
}

TEST_CASE("events written before deadlines kept their calendar decode as official with no version") {
  const deadline_basis none{};
  SUBCASE("case_received v2") {
    const event decoded = golden_event("01-case_received.v2.bin", case_received::type_id, 2);
    case_received expected = sample_received();
    expected.transfer_basis = none;
    expected.cat.reset();
    expected.dom.reset();
    expected.received_at.reset();
    expected.caller.account.clear();
    CHECK(std::get<case_received>(decoded) == expected);
  }
  SUBCASE("case_received v5: a caller without a channel account (Art. 23)") {
    const event decoded = golden_event("01-case_received.v5.bin", case_received::type_id, 5);
    case_received expected = sample_received();
    expected.caller.account.clear();
    CHECK(std::get<case_received>(decoded) == expected);
  }
  SUBCASE("case_received v4: received when recorded (Art. 27)") {
    const event decoded = golden_event("01-case_received.v4.bin", case_received::type_id, 4);
    case_received expected = sample_received();
    expected.received_at.reset();
    expected.caller.account.clear();
    CHECK(std::get<case_received>(decoded) == expected);
    case_state s;
    s = evolve(s, decoded, timestamp{42});
    CHECK(s.received_at == timestamp{42});
    CHECK(s.recorded_at == timestamp{42});
  }
  SUBCASE("case_received v3: no category or domain named at intake (Art. 39)") {
    const event decoded = golden_event("01-case_received.v3.bin", case_received::type_id, 3);
    case_received expected = sample_received();
    expected.cat.reset();
    expected.dom.reset();
    expected.received_at.reset();
    expected.caller.account.clear();
    CHECK(std::get<case_received>(decoded) == expected);
    case_state s;
    s = evolve(s, decoded, timestamp{0});
    CHECK_FALSE(s.cat);
    CHECK_FALSE(s.dom);
  }
  SUBCASE("transferred v1") {
    const event decoded = golden_event("06-transferred.v1.bin", transferred::type_id, 1);
    CHECK(std::get<transferred>(decoded) == sample_transferred_v1());
    // Its reply deadline can still be recomputed: from the transfer, over its reply days.
    case_state s;
    s.status = case_status::classified;
    s = evolve(s, decoded, timestamp{0});
    CHECK(s.reply_from == civil_date{2026, 10, 9});
    CHECK(s.reply_days == 30);
    CHECK(s.reply_basis == none);
  }
  SUBCASE("transferred v2: the reply deadline counts from this transfer (Art. 32-33)") {
    const event decoded = golden_event("06-transferred.v2.bin", transferred::type_id, 2);
    CHECK(std::get<transferred>(decoded) == sample_transferred_v2());
    CHECK_FALSE(std::get<transferred>(decoded).reply_from);
    case_state s;
    s.status = case_status::classified;
    s = evolve(s, decoded, timestamp{0});
    CHECK(s.reply_from == civil_date{2026, 10, 9});
  }
  SUBCASE("returned v1: a late return accepted from the unit, marked late, without a reason") {
    const event decoded = golden_event("08-returned.v1.bin", returned::type_id, 1);
    CHECK(std::get<returned>(decoded) == sample_returned_v1());
    case_state s;
    s.status = case_status::transferred;
    s = evolve(s, decoded, timestamp{0});
    CHECK(s.returns == 1);
    CHECK(s.late_returns == 1);
  }
  SUBCASE("extended v1") {
    const event decoded = golden_event("09-extended.v1.bin", extended::type_id, 1);
    CHECK(std::get<extended>(decoded) == sample_extended_v1());
  }
  SUBCASE("extended v2: approved_by in plain text, as before it was sealed") {
    const event decoded = golden_event("09-extended.v2.bin", extended::type_id, 2);
    CHECK(std::get<extended>(decoded) == sample_extended_v2());
    CHECK_FALSE(std::get<extended>(decoded).approved_by_sealed);
  }
  SUBCASE("extended v3: approved_by as the unit gave it, sealed; no requester (Art. 34)") {
    const event decoded = golden_event("09-extended.v3.bin", extended::type_id, 3);
    CHECK(std::get<extended>(decoded) == sample_extended_v3());
    CHECK(std::get<extended>(decoded).approved_by_sealed);
    CHECK(std::get<extended>(decoded).requested_by().empty());
  }
  SUBCASE("unit_registered v1: the contact in plain text, as before it was sealed") {
    auto bytes = read_golden("17-unit_registered.v1.bin");
    REQUIRE(bytes);
    auto decoded = decode_registry_event(unit_registered::type_id, 1, *bytes);
    REQUIRE(decoded);
    CHECK(std::get<unit_registered>(decoded.value()) == sample_unit_registered_v1());
  }
  SUBCASE("answered_immediately v1: not picked for a revisit, as none was before v2 (Art. 23(1))") {
    const event decoded =
        golden_event("02-answered_immediately.v1.bin", answered_immediately::type_id, 1);
    const auto& a = std::get<answered_immediately>(decoded);
    CHECK(a == answered_immediately{"12328 服务时间为全天", civil_date{2026, 10, 9}, agent, false});
    case_state s;
    s.status = case_status::received;
    s = evolve(s, decoded, timestamp{0});
    CHECK(s.status == case_status::answered);
    CHECK_FALSE(s.revisit_required);
  }
  SUBCASE("revisited v1") {
    const event decoded = golden_event("12-revisited.v1.bin", revisited::type_id, 1);
    CHECK(std::get<revisited>(decoded) == sample_revisited_v1());
    CHECK(std::get<revisited>(decoded).reopened_reply_days() == 0);
  }
}

TEST_CASE("case_received v1 is upcast to v2 with an empty id and agent") {
  const event decoded = golden_event("01-case_received.v1.bin", case_received::type_id, 1);
  case_received expected = sample_received();
  expected.id = case_id{};
  expected.received_by = user_id{};
  expected.transfer_basis = deadline_basis{};
  expected.cat.reset();
  expected.dom.reset();
  expected.received_at.reset();
  expected.caller.account.clear();
  CHECK(std::get<case_received>(decoded) == expected);
  // Folding a v1 event keeps the id the stream gave the state.
  case_state s;
  s.id = case_id{"410100-20260930-000001"};
  s = evolve(s, decoded, timestamp{0});
  CHECK(s.id() == "410100-20260930-000001");
  CHECK(s.transfer_due == civil_date{2026, 10, 10});
}

TEST_CASE("every golden file in the folder is known and decodes") {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(golden_dir())) {
    const std::string name = entry.path().filename().string();
    unsigned type_id = 0, version = 0;
    char event_text[64] = {};
    REQUIRE(std::sscanf(name.c_str(), "%2u-%63[a-z_].v%u.bin", &type_id, event_text, &version) == 3);
    CAPTURE(name);
    CHECK(event_name(static_cast<std::uint16_t>(type_id)) == event_text);
    const auto bytes = read_golden(name);
    REQUIRE(bytes);
    const bool ok = type_id == unit_registered::type_id ||
                            type_id == calendar_year_published::type_id ||
                            type_id == token_issued::type_id || type_id == token_revoked::type_id
                        ? bool(decode_registry_event(static_cast<std::uint16_t>(type_id),
                                                     static_cast<std::uint16_t>(version), *bytes))
                        : bool(decode(static_cast<std::uint16_t>(type_id),
                                      static_cast<std::uint16_t>(version), *bytes));
    CHECK(ok);
    ++files;
  }
  // 21 case event types and their older versions (case_received v1 to v5, answered_immediately
  // v1, transferred v1 and v2, returned v1, revisited v1, extended v1 to v3), unit_registered v1
  // and v2, calendar_year_published, token_issued, token_revoked.
  CHECK(files == 40);
}

TEST_CASE("unknown types, unknown versions and garbage do not decode") {
  CHECK(decode(15, 1, "").error().code == errc::undecodable_event);
  CHECK(decode(99, 1, "").error().code == errc::undecodable_event);
  CHECK(decode(case_received::type_id, 7, "").error().code == errc::undecodable_event);
  CHECK(decode(archived::type_id, 1, "\x01").error().code == errc::undecodable_event);
  const encoded_event enc = encode(event{archived{civil_date{2026, 1, 5}, user_id{"x"}}});
  CHECK(decode(archived::type_id, 1, enc.bytes + "x").error().code == errc::undecodable_event);
  CHECK(event_name(15) == "recording_purged");
  CHECK(event_name(16) == "text_shredded");
  CHECK(event_name(17) == "unit_registered");
  CHECK(event_name(18) == "legal_hold_placed");
  CHECK(event_name(20) == "purge_refused");
  CHECK(event_name(21) == "deadline_revised");
  CHECK(event_name(22) == "calendar_year_published");
  CHECK(event_name(23).empty());
  CHECK(event_name(24) == "extension_requested");
  CHECK(event_name(26) == "token_issued");
  CHECK(event_name(27) == "token_revoked");
}

namespace {
// What cereal's own portable binary archive writes for `values` on this machine.
template <class... T>
std::string cereal_bytes(const T&... values) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(values...);
  }
  return std::move(out).str();
}
}  // namespace

TEST_CASE("binary_encode writes the bytes of cereal's portable binary archive") {
  static_assert(std::endian::native == std::endian::little,
                "this test compares with cereal's archive, which writes the machine's order");
  SUBCASE("values of every width, empty and long strings, containers, optionals") {
    const std::vector<std::string> names{"", "a", std::string(300, 'x'), "中文"};
    const std::optional<std::int64_t> some = -5;
    const std::optional<std::int64_t> none;
    const std::vector<std::uint16_t> widths{1, 0xfffe, 7};
    CHECK(binary_encode(true, std::uint8_t{250}, std::int16_t{-2}, std::uint32_t{0xdeadbeef},
                        std::int64_t{-1'234'567'890'123}, 2.5, names, some, none, widths) ==
          cereal_bytes(true, std::uint8_t{250}, std::int16_t{-2}, std::uint32_t{0xdeadbeef},
                       std::int64_t{-1'234'567'890'123}, 2.5, names, some, none, widths));
  }
  SUBCASE("every event type's sample, and the case folded from all of them") {
    case_state folded;
    for (const event& sample : current_samples()) {
      CAPTURE(event_name(encode(sample).type_id));
      std::visit([](const auto& e) { CHECK(binary_encode(e) == cereal_bytes(e)); }, sample);
      folded = evolve(std::move(folded), sample, timestamp{1'759'190'400'000});
    }
    REQUIRE(folded.version > 0);
    CHECK(binary_encode(folded, std::string(32, 'h')) ==
          cereal_bytes(folded, std::string(32, 'h')));
  }
}

TEST_CASE("a declared length beyond the bytes left is refused before anything is allocated") {
  // binary_encode(std::string) is: the endianness flag, a 64-bit length, the characters.
  std::string bytes = binary_encode(std::string("abc"), std::vector<std::string>{"d"});
  {
    binary_input ar(bytes);
    std::string s;
    std::vector<std::string> v;
    ar(s, v);
    CHECK(s == "abc");
    CHECK(v == std::vector<std::string>{"d"});
    CHECK(ar.remaining() == 0);
  }
  SUBCASE("a string that says it is 2^62 bytes long") {
    const std::uint64_t huge = std::uint64_t{1} << 62;
    std::memcpy(bytes.data() + 1, &huge, sizeof huge);
    binary_input ar(bytes);
    std::string s;
    CHECK_THROWS_WITH_AS(ar(s), doctest::Contains("exceeds"), cereal::Exception);
  }
  SUBCASE("a vector that says it holds more elements than there are bytes") {
    const std::uint64_t more = 100;  // the vector's count follows the string's 1 + 8 + 3 bytes
    std::memcpy(bytes.data() + 12, &more, sizeof more);
    binary_input ar(bytes);
    std::string s;
    std::vector<std::string> v;
    CHECK_THROWS_WITH_AS(ar(s, v), doctest::Contains("exceeds"), cereal::Exception);
  }
  SUBCASE("bytes that end early") {
    binary_input ar(std::string_view(bytes).substr(0, 5));
    std::string s;
    CHECK_THROWS_WITH_AS(ar(s), doctest::Contains("ends early"), cereal::Exception);
  }
  SUBCASE("an event body whose string length is corrupt is undecodable, not an allocation") {
    const encoded_event enc = encode(event{archived{civil_date{2026, 1, 5}, user_id{"x"}}});
    std::string body = enc.bytes;
    // The user id's length is the 8 bytes before its one character, at the end.
    const std::uint64_t huge = std::uint64_t{1} << 40;
    std::memcpy(body.data() + body.size() - 9, &huge, sizeof huge);
    const auto r = decode(archived::type_id, 1, body);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::undecodable_event);
    CHECK(r.error().detail.find("exceeds") != std::string::npos);
  }
}
