// Personal data over the API (Art. 38): the fields sealed in the log and the store are opened
// for display (masked where the role asks), null once the case is shredded while its facts stay,
// and a field that does not verify is a 500 problem, never data. No plaintext in stored answers.
#include "gateway/case_json.h"

#include <memory>
#include <sstream>

#include <rocksdb/db.h>

#include "events/field_crypto.h"
#include "projections/case_projection.h"
#include "projections/case_row.h"
#include "projections/key_store.h"
#include "projections/row_keys.h"
#include "projections/store.h"
#include "tests/gateway/gateway_test_support.h"
#include "tests/support/process.h"
#include "tools/audit_cmd.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }

constexpr const char* content = "The bus did not stop.";  // gwtest::test_server::receive

// Every value of a column family, concatenated (to search stored bytes for plaintext).
std::string family_bytes(projections::store& s, projections::family f) {
  std::string out;
  std::unique_ptr<rocksdb::Iterator> it(s.db().NewIterator(rocksdb::ReadOptions(), s.cf(f)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out += it->value().ToString();
  REQUIRE(it->status().ok());
  return out;
}

// `caseline audit verify` on the server's data folder, the server stopped (the embedded store
// is locked while it runs); its exit code, and its report in `out`.
int audit_verify(test_server& srv, std::string& out) {
  srv.stack.reset();
  tools::audit_options o;
  o.store.data_dir = srv.dir.path().string();
  o.store.partitions = 4;
  o.progress = false;
  std::ostringstream report, err;
  const int code = tools::run_audit_verify(o, report, err);
  out = report.str();
  return code;
}

}  // namespace

TEST_CASE("a case's personal fields are stored sealed and shown opened: case, command answer, history, status") {
  test_server srv;
  const auto id = srv.receive(true, "13800001234");
  // (A read through the API waits until the projection holds the server's own writes.)
  REQUIRE(srv.get("/v1/cases/" + id, srv.own.at("agent")).status == 200);

  // Sealed where they are kept.
  auto row = projections::case_reader(srv.stack->store()).get(case_id{id});
  REQUIRE(row);
  REQUIRE(row.value());
  CHECK(events::is_sealed_field(row.value()->state.content));
  CHECK(events::is_sealed_field(row.value()->state.caller.phone));

  auto c = srv.get("/v1/cases/" + id, srv.own.at("agent"));
  REQUIRE(c.status == 200);
  CHECK(str(c.json().at("caller"), "phone") == "13800001234");
  CHECK(str(c.json().at("caller"), "name") == "张三");
  CHECK(str(c.json(), "content") == content);
  CHECK(str(c.json(), "personal_data") == "available");

  // Masking applies to the opened number.
  c = srv.get("/v1/cases/" + id, srv.own.at("auditor"));
  REQUIRE(c.status == 200);
  CHECK(str(c.json().at("caller"), "phone") == "138****1234");
  CHECK(str(c.json(), "content") == content);

  // A command's answer is the case opened.
  auto r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"Line 2 runs every 5 minutes."})",
                    srv.own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "content") == content);
  CHECK(str(r.json().at("caller"), "phone") == "13800001234");

  // Each event is opened with its own event id.
  auto ev = srv.get("/v1/cases/" + id + "/events", srv.own.at("supervisor"));
  REQUIRE(ev.status == 200);
  CHECK(str(ev.json(), "personal_data") == "available");
  const auto& events = ev.json().at("events").as_array();
  REQUIRE(events.size() == 2);
  CHECK(str(events[0].at("data").at("caller"), "phone") == "13800001234");
  CHECK(str(events[0].at("data"), "content") == content);
  CHECK(str(events[1].at("data"), "answer") == "Line 2 runs every 5 minutes.");
  ev = srv.get("/v1/cases/" + id + "/events", srv.own.at("quality_inspector"));
  CHECK(str(ev.json().at("events").as_array()[0].at("data").at("caller"), "phone") ==
        "138****1234");

  // The status query compares against the opened number.
  CHECK(request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=1234").status == 200);
  CHECK(request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=9999").status == 404);
}

TEST_CASE("a shredded case shows its facts without any text, and its status answers as a missing case") {
  test_server srv;
  const auto id = srv.transferred(true);
  const auto missing = "410100-20250926-999999";
  const auto status_missing = request(srv.port, "GET", std::string("/v1/status/") + missing +
                                                      "?phone_last4=1234");
  REQUIRE(status_missing.status == 404);
  REQUIRE(srv.stack->keys().shred({case_id{id}}));

  auto c = srv.get("/v1/cases/" + id, srv.own.at("agent"));
  REQUIRE(c.status == 200);
  CHECK(str(c.json(), "personal_data") == "shredded");
  CHECK(c.json().at("caller").at("phone").is_null());
  CHECK(c.json().at("caller").at("name").is_null());
  CHECK(c.json().at("content").is_null());
  CHECK(c.body.find("did not stop") == std::string::npos);  // ("bus" is a topic: it stays)
  CHECK(c.body.find("1234") == std::string::npos);
  // The non-personal facts stay.
  CHECK(str(c.json(), "received_on") == "2025-09-26");
  CHECK(str(c.json(), "category") == "complaint");
  CHECK(str(c.json(), "domain") == "road_transport");
  CHECK(str(c.json(), "unit") == own_unit);
  CHECK(str(c.json().at("deadlines").at("transfer_by"), "due") == "2025-09-30");
  CHECK(str(c.json().at("deadlines").at("transfer_by"), "state") == "met");

  auto ev = srv.get("/v1/cases/" + id + "/events", srv.own.at("auditor"));
  REQUIRE(ev.status == 200);
  CHECK(str(ev.json(), "personal_data") == "shredded");
  const auto& events = ev.json().at("events").as_array();
  REQUIRE(events.size() == 3);
  CHECK(events[0].at("data").at("content").is_null());
  CHECK(events[0].at("data").at("caller").at("phone").is_null());
  CHECK(str(events[0].at("data"), "received_on") == "2025-09-26");
  CHECK(str(events[1].at("data"), "category") == "complaint");
  CHECK(ev.body.find("bus did not") == std::string::npos);

  // Art. 36: a shredded case has no number to compare; it answers exactly as a missing one.
  auto st = request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=1234");
  CHECK(st.status == 404);
  auto body = st.body;
  for (auto p = body.find(id); p != std::string::npos; p = body.find(id))
    body.replace(p, id.size(), missing);
  CHECK(body == status_missing.body);
}

TEST_CASE("a personal field that does not verify is a 500 problem to staff, never data; to the "
          "status query it is a missing case; it is counted and audit verify names it") {
  test_server srv;
  const auto id = srv.receive(true, "13800007777");
  REQUIRE(srv.get("/v1/cases/" + id, srv.own.at("agent")).status == 200);  // applied
  auto& store = srv.stack->store();
  auto row = projections::case_reader(store).get(case_id{id});
  REQUIRE(row);
  REQUIRE(row.value());
  auto tampered = *row.value();
  tampered.state.content.back() = static_cast<char>(tampered.state.content.back() ^ 0x01);
  REQUIRE(store.db()
              .Put(rocksdb::WriteOptions(), store.cf(projections::family::cases),
                   projections::keys::case_row::encode(id), projections::encode_case_row(tampered))
              .ok());

  auto c = srv.get("/v1/cases/" + id, srv.own.at("agent"));
  CHECK(c.status == 500);
  CHECK(c.header("content-type") == "application/problem+json");
  CHECK(str(c.json(), "type") == "/problems/internal");
  CHECK(c.body.find("7777") == std::string::npos);
  CHECK(c.body.find("bus") == std::string::npos);
  // The status query needs no token: a damaged case answers exactly as a missing one, so it
  // cannot be used to learn that a case exists but was damaged.
  const std::string missing = "410100-20250926-999999";
  auto st = request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=7777");
  auto absent = request(srv.port, "GET", "/v1/status/" + missing + "?phone_last4=7777");
  CHECK(st.status == 404);
  CHECK(st.header("content-type") == "application/problem+json");
  auto body = st.body;
  for (auto p = body.find(id); p != std::string::npos; p = body.find(id))
    body.replace(p, id.size(), missing);
  CHECK(body == absent.body);
  // Each failure is counted.
  auto m = srv.get("/metrics", srv.own.at("admin"));
  REQUIRE(m.status == 200);
  CHECK(m.body.find("caseline_integrity_failures_total 2") != std::string::npos);
  // The log itself is intact: the history still opens.
  auto ev = srv.get("/v1/cases/" + id + "/events", srv.own.at("agent"));
  CHECK(ev.status == 200);
  CHECK(str(ev.json().at("events").as_array()[0].at("data"), "content") == content);

  // `caseline audit verify` names the case whose sealed field fails.
  std::string out;
  CHECK(audit_verify(srv, out) == 1);
  CAPTURE(out);
  CHECK(out.find("sealed field problems: 1") != std::string::npos);
  CHECK(out.find("case " + id) != std::string::npos);
  CHECK(out.find("content") != std::string::npos);
  CHECK(out.find("bus") == std::string::npos);
}

TEST_CASE("audit verify checks the sealed fields of an untouched log and store") {
  test_server srv;
  srv.receive(true, "13800007777");
  std::string out;
  CHECK(audit_verify(srv, out) == 0);
  CAPTURE(out);
  CHECK(out.find("sealed fields not checked") == std::string::npos);
}

TEST_CASE("an idempotent answer with personal data is stored sealed and replayed opened") {
  test_server srv;
  const std::string body =
      R"({"channel":"phone","center":"410100","caller":{"phone":"13900004321","name":"李四"},"content":"Taxi overcharged me at the station."})";
  const header_list key{{"Idempotency-Key", "receive-1"}};
  auto first = srv.post("/v1/cases", body, srv.own.at("agent"), key);
  REQUIRE(first.status == 201);
  CHECK(str(first.json(), "content") == "Taxi overcharged me at the station.");
  auto again = srv.post("/v1/cases", body, srv.own.at("agent"), key);
  REQUIRE(again.status == 201);
  CHECK(again.header("idempotent-replayed") == "true");
  CHECK(again.body == first.body);
  const auto id = str(first.json(), "id");
  // A command's answer too.
  const header_list key2{{"Idempotency-Key", "answer-1"}};
  auto a1 = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"Call the taxi office."})",
                     srv.own.at("agent"), key2);
  REQUIRE(a1.status == 200);
  auto a2 = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"Call the taxi office."})",
                     srv.own.at("agent"), key2);
  CHECK(a2.status == 200);
  CHECK(a2.body == a1.body);

  const auto stored = family_bytes(srv.stack->store(), projections::family::idempotency);
  CHECK_FALSE(stored.empty());
  CHECK(stored.find("13900004321") == std::string::npos);
  CHECK(stored.find("Taxi overcharged") == std::string::npos);
  CHECK(stored.find("李四") == std::string::npos);
}

TEST_CASE("a unit's contact and an extension request's explanation are sealed in the log and the "
          "store, shown opened") {
  test_server srv;
  auto put = request(srv.port, "PUT", "/v1/units/zz-metro",
                     R"({"name":"Metro","center":"410100","contact":{"name":"赵六","mobile":"13712345678","email":"zhao@example.cn"}})",
                     test_server::auth(srv.own.at("supervisor")));
  REQUIRE(put.status == 200);
  CHECK(str(put.json().at("contact"), "mobile") == "13712345678");
  auto u = srv.get("/v1/units/zz-metro", srv.own.at("agent"));
  REQUIRE(u.status == 200);
  CHECK(str(u.json().at("contact"), "name") == "赵六");
  CHECK(str(u.json().at("contact"), "email") == "zhao@example.cn");

  const auto id = srv.transferred(true);
  // The unit asks (its explanation is told to the caller: personal), its head approves (Art. 34).
  auto ext = srv.post("/v1/cases/" + id + "/extend",
                      R"({"reason":"complex","working_days":3,"explanation":"Director Qian 13622223333 inspects"})",
                      srv.own.at("unit"));
  REQUIRE(ext.status == 200);
  REQUIRE(srv.post("/v1/cases/" + id + "/extension/approve", "", srv.own.at("unit_head")).status == 200);
  auto ev = srv.get("/v1/cases/" + id + "/events", srv.own.at("agent"));
  REQUIRE(ev.status == 200);
  CHECK(ev.body.find("Director Qian 13622223333") != std::string::npos);

  const auto registry = family_bytes(srv.stack->store(), projections::family::registry);
  CHECK_FALSE(registry.empty());
  CHECK(registry.find("13712345678") == std::string::npos);
  CHECK(registry.find("赵六") == std::string::npos);
  const auto log = test::all_bytes_under((srv.dir.path() / "log").string());
  CHECK_FALSE(log.empty());
  CHECK(log.find("13712345678") == std::string::npos);
  CHECK(log.find("赵六") == std::string::npos);
  CHECK(log.find("13622223333") == std::string::npos);
  CHECK(log.find(id) != std::string::npos);  // (the log's bytes are searchable)
}

TEST_CASE("Art. 23 — a caller's channel account is sealed in the log and the store like the phone") {
  test_server srv;
  const std::string account = "wx-o6_bmjrPTlm6-account";
  auto r = srv.post("/v1/cases",
                    R"({"channel":"wechat","center":"410100","caller":{"account":")" + account +
                        R"("},"content":"Where is my refund?"})",
                    srv.own.at("agent"));
  REQUIRE(r.status == 201);
  const auto id = str(r.json(), "id");
  CHECK(str(r.json().at("caller"), "account") == account);
  REQUIRE(srv.get("/v1/cases/" + id, srv.own.at("agent")).status == 200);
  auto row = projections::case_reader(srv.stack->store()).get(case_id{id});
  REQUIRE(row);
  REQUIRE(row.value());
  CHECK(events::is_sealed_field(row.value()->state.caller.account));
  CHECK(row.value()->state.caller.phone.empty());
  CHECK(family_bytes(srv.stack->store(), projections::family::cases).find(account) == std::string::npos);
}
