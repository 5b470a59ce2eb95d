// The retention routes (Art. 38) against a real server: call audio stored and fetched by its hash (with
// its own body limit, checked on read), legal holds (also on archived cases), and the retention
// audit for auditors and the provincial center's supervisors.
#include "gateway/api.h"

#include <fstream>
#include <sstream>

#include "events/record.h"
#include "projections/access_log.h"
#include "projections/blob_store.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }

// 200 KiB of bytes that are not text: more than the default body limit of 64 KiB.
std::string audio_bytes() {
  std::string out;
  std::mt19937 rng{12328};
  for (int i = 0; i < 200 * 1024; ++i) out += static_cast<char>(rng() & 0xff);
  return out;
}

reply put_audio(test_server& srv, const std::string& bytes, const std::string& token,
                const std::string& type = "audio/wav") {
  return request(srv.port, "PUT", "/v1/recordings", bytes,
                 test_server::auth(token, {{"Content-Type", type}}));
}

}  // namespace

std::string case_with_recording(test_server& srv, const std::string& sha, bool own_side = true) {
  auto c = srv.post("/v1/cases",
                    std::string(R"({"channel":"phone","center":")") +
                        (own_side ? own_center : other_center) +
                        R"(","caller":{"phone":"13800001234"},"content":"c","recording":{"uri":"blob:)" +
                        sha + R"(","sha256":")" + sha + R"(","duration_s":60}})",
                    (own_side ? srv.own : srv.other).at("agent"));
  REQUIRE(c.status == 201);
  CHECK(str(c.json().at("recording"), "sha256") == sha);
  return str(c.json(), "id");
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

TEST_CASE("a recording is stored sealed, fetched through its case, and every fetch is recorded") {
  test_server srv;
  const auto bytes = audio_bytes();
  auto r = put_audio(srv, bytes, srv.own.at("agent"));
  REQUIRE(r.status == 201);
  const auto sha = str(r.json(), "sha256");
  CHECK(sha == events::to_hex(events::sha256(bytes)));
  CHECK(str(r.json(), "uri") == "blob:" + sha);
  CHECK(r.json().at("bytes").as_int64() == static_cast<std::int64_t>(bytes.size()));
  // The same bytes again: the same answer.
  CHECK(str(put_audio(srv, bytes, srv.own.at("shift_lead"), "application/octet-stream").json(),
            "sha256") == sha);
  // Never on disk as audio: staged, it is sealed under a key of its own.
  const std::string path = srv.stack->blobs().path_of(sha);
  CHECK(file_bytes(path).find(bytes.substr(1000, 64)) == std::string::npos);

  const auto id = case_with_recording(srv, sha);
  CHECK(file_bytes(path).find(bytes.substr(1000, 64)) == std::string::npos);

  auto g = srv.get("/v1/cases/" + id + "/recording", srv.own.at("quality_inspector"));
  REQUIRE(g.status == 200);
  CHECK(g.header("content-type") == "application/octet-stream");
  CHECK(g.body == bytes);
  auto log = projections::access_log(srv.stack->store()).of_case(id);
  REQUIRE(log);
  CHECK(log.value().size() >= 1);

  // Another center's supervisor: exactly a missing case.
  const std::string missing = "410100-20250926-999999";
  auto foreign = srv.get("/v1/cases/" + id + "/recording", srv.other.at("supervisor"));
  auto absent = srv.get("/v1/cases/" + missing + "/recording", srv.other.at("supervisor"));
  CHECK(foreign.status == 404);
  auto body = foreign.body;
  for (auto p = body.find(id); p != std::string::npos; p = body.find(id))
    body.replace(p, id.size(), missing);
  CHECK(body == absent.body);
  // The old route by hash is gone: no recording is served without its case.
  CHECK(srv.get("/v1/recordings/" + sha, srv.own.at("supervisor")).status == 404);

  // A second case cannot take this recording.
  auto second = srv.post("/v1/cases",
                         R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c","recording":{"uri":"blob:)" +
                             sha + R"(","sha256":")" + sha + R"(","duration_s":60}})",
                         srv.own.at("agent"));
  CHECK(second.status == 422);
  CHECK(str(second.json(), "field") == "recording.sha256");

  // Bytes that no longer verify are an error, never served, and counted.
  const std::string sealed = file_bytes(path);
  {
    std::string altered = sealed;
    altered.back() = static_cast<char>(altered.back() ^ 0x01);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << altered;
  }
  auto corrupt = srv.get("/v1/cases/" + id + "/recording", srv.own.at("supervisor"));
  CHECK(corrupt.status == 500);
  CHECK(corrupt.header("content-type") == "application/problem+json");
  CHECK(srv.get("/metrics", srv.own.at("admin")).body.find("caseline_integrity_failures_total 1") !=
        std::string::npos);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << sealed;
  CHECK(srv.get("/v1/cases/" + id + "/recording", srv.own.at("supervisor")).status == 200);

  // Shredding the case's key makes its audio unreadable, although the file is still there.
  REQUIRE(srv.stack->keys().shred({case_id{id}}));
  auto shredded = srv.get("/v1/cases/" + id + "/recording", srv.own.at("supervisor"));
  CHECK(shredded.status == 410);
  CHECK(shredded.header("content-type") == "application/problem+json");
  CHECK(std::filesystem::exists(path));
  CHECK(file_bytes(path).find(bytes.substr(1000, 64)) == std::string::npos);
}

TEST_CASE("a case that names a recording never uploaded is refused, naming the field") {
  test_server srv;
  const std::string sha(64, 'a');
  auto c = srv.post("/v1/cases",
                    R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c","recording":{"uri":"blob:)" +
                        sha + R"(","sha256":")" + sha + R"(","duration_s":60}})",
                    srv.own.at("agent"));
  CHECK(c.status == 422);
  CHECK(c.header("content-type") == "application/problem+json");
  CHECK(str(c.json(), "field") == "recording.sha256");
  // Nothing was written.
  auto list = srv.get("/v1/cases?center=410100", srv.own.at("agent"));
  REQUIRE(list.status == 200);
  CHECK(list.json().at("items").as_array().empty());
  // A case without a recording: 410, not 404 (404 is only "no such case").
  const auto id = srv.receive();
  CHECK(srv.get("/v1/cases/" + id + "/recording", srv.own.at("supervisor")).status == 410);
}

TEST_CASE("PUT /v1/recordings: its own body limit, audio media types only") {
  test_server srv;
  // (The default limit of other routes: hardening_test.cpp. 200 KiB of audio pass: above.)
  // Above 32 MiB is refused from the header alone, before any byte of the body.
  const std::string head =
      "PUT /v1/recordings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
      srv.own.at("agent") + "\r\nContent-Type: audio/wav\r\nContent-Length: " +
      std::to_string(32 * 1024 * 1024 + 1) + "\r\n\r\n";
  CHECK(raw_request(srv.port, head).status == 413);
  auto json_type = put_audio(srv, "{}", srv.own.at("agent"), "application/json");
  CHECK(json_type.status == 415);
  auto empty = put_audio(srv, "", srv.own.at("agent"));
  CHECK(empty.status == 422);
  CHECK(put_audio(srv, "x", srv.own.at("quality_inspector")).status == 403);
}

TEST_CASE("legal holds: placed and lifted by a supervisor, once each, also on archived cases") {
  test_server srv;
  const auto id = srv.receive();
  REQUIRE(srv.post("/v1/cases/" + id + "/answer", R"({"answer":"a"})", srv.own.at("agent")).status ==
          200);
  srv.revisit_if_picked(id, srv.own.at("supervisor"));
  auto a = srv.post("/v1/cases/" + id + "/archive", "{}", srv.own.at("supervisor"));
  REQUIRE(a.status == 200);
  // 3, or 4 with the revisit the sample asked for (Art. 23, 46).
  const auto archived = a.json().at("version").as_int64();
  const std::string held = "\"" + std::to_string(archived + 1) + "\"";

  auto h = srv.post("/v1/cases/" + id + "/legal-hold", R"({"reason":"court order 2025-17"})",
                    srv.own.at("supervisor"));
  REQUIRE(h.status == 200);
  CHECK(h.json().at("legal_hold").as_bool());
  CHECK(str(h.json(), "legal_hold_reason") == "court order 2025-17");
  CHECK(str(h.json(), "status") == "archived");
  CHECK(h.header("etag") == held);
  auto twice = srv.post("/v1/cases/" + id + "/legal-hold", R"({"reason":"again"})",
                        srv.own.at("supervisor"));
  CHECK(twice.status == 409);
  auto no_reason = srv.post("/v1/cases/" + id + "/legal-hold", R"({"reason":""})",
                            srv.own.at("supervisor"));
  CHECK(no_reason.status == 422);
  CHECK(str(no_reason.json(), "field") == "reason");
  CHECK(srv.post("/v1/cases/" + id + "/legal-hold", R"({"reason":"x"})", srv.own.at("agent"))
            .status == 403);

  auto l = srv.post("/v1/cases/" + id + "/lift-legal-hold", R"({"reason":"case closed in court"})",
                    srv.own.at("supervisor"), {{"If-Match", held}});
  REQUIRE(l.status == 200);
  CHECK_FALSE(l.json().at("legal_hold").as_bool());
  CHECK(srv.post("/v1/cases/" + id + "/lift-legal-hold", R"({"reason":"x"})",
                 srv.own.at("supervisor")).status == 409);

  auto ev = srv.get("/v1/cases/" + id + "/events", srv.own.at("auditor"));
  REQUIRE(ev.status == 200);
  const auto& events = ev.json().at("events").as_array();
  REQUIRE(events.size() == static_cast<std::size_t>(archived + 2));
  const auto& placed = events[static_cast<std::size_t>(archived)];
  CHECK(str(placed, "type") == "legal_hold_placed");
  CHECK(str(placed.at("data"), "reason") == "court order 2025-17");
  CHECK(str(events[static_cast<std::size_t>(archived) + 1], "type") == "legal_hold_lifted");
}

TEST_CASE("the retention audit: auditors and the provincial center's supervisors, JSON or text") {
  test_server srv;
  const auto sha = str(put_audio(srv, audio_bytes(), srv.own.at("agent")).json(), "sha256");
  auto c = srv.post("/v1/cases",
                    R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c","recording":{"uri":"blob:)" +
                        sha + R"(","sha256":")" + sha + R"(","duration_s":60}})",
                    srv.own.at("agent"));
  REQUIRE(c.status == 201);
  const auto id = str(c.json(), "id");
  REQUIRE(srv.post("/v1/cases/" + id + "/answer", R"({"answer":"a"})", srv.own.at("agent")).status ==
          200);
  srv.revisit_if_picked(id, srv.own.at("supervisor"));
  REQUIRE(srv.post("/v1/cases/" + id + "/archive", "{}", srv.own.at("supervisor")).status == 200);
  REQUIRE(srv.post("/v1/cases/" + id + "/legal-hold", R"({"reason":"inquiry"})",
                   srv.own.at("supervisor")).status == 200);
  CHECK(srv.get("/v1/cases/" + id, srv.own.at("auditor")).json().at("legal_hold").as_bool());

  auto a = srv.get("/v1/retention/audit", srv.own.at("auditor"));
  REQUIRE(a.status == 200);
  CAPTURE(a.body);
  CHECK(str(a.json(), "as_of") == "2025-09-26");  // today, by the service clock
  CHECK(a.json().at("verdict").at("no_early_purge").as_bool());
  bool recording = false;
  for (const auto& i : a.json().at("items").as_array())
    if (str(i, "case_id") == id && str(i, "item") == "recording") {
      recording = true;
      CHECK(str(i, "sha256") == sha);
      CHECK(str(i, "status") == "held");
    }
  CHECK(recording);
  bool hold = false;
  for (const auto& h : a.json().at("history").as_array())
    hold = hold || (str(h, "case_id") == id && str(h, "kind") == "legal_hold_placed");
  CHECK(hold);

  auto later = srv.get("/v1/retention/audit?as_of=2027-01-04", srv.provincial.at("supervisor"));
  REQUIRE(later.status == 200);
  CHECK(str(later.json(), "as_of") == "2027-01-04");
  auto text = srv.get("/v1/retention/audit?format=text", srv.own.at("auditor"));
  REQUIRE(text.status == 200);
  CHECK(text.header("content-type").starts_with("text/plain"));
  CHECK(text.body.find("retention audit as of 2025-09-26") != std::string::npos);

  CHECK(srv.get("/v1/retention/audit", srv.own.at("supervisor")).status == 403);
  CHECK(srv.get("/v1/retention/audit", srv.own.at("agent")).status == 403);
  auto bad = srv.get("/v1/retention/audit?as_of=yesterday", srv.own.at("auditor"));
  CHECK(bad.status == 422);
  CHECK(str(bad.json(), "field") == "as_of");
  CHECK(str(srv.get("/v1/retention/audit?format=xml", srv.own.at("auditor")).json(), "field") ==
        "format");
}
