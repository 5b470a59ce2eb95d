// Call recordings (Art. 38): staged before their case exists, fetched only through it.

#include "gateway/detail/api_impl.h"

#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>

#include "core/log_line.h"
#include "events/errc.h"
#include "gateway/json_input.h"

namespace caseline::gateway {

// Every handler has the dispatch table's signature (api_impl.h): it takes its responder by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

// The call's audio, stored content-addressed; the case refers to it by "blob:<sha256>".
void api::impl::put_recording(const scope_ptr& sc, responder done) {
  const auto ct = sc->req.header("content-type");
  const std::string_view type = ct ? ct->substr(0, ct->find(';')) : std::string_view{};
  if (!type.starts_with("audio/") && type != "application/octet-stream")
    return done(error_response(
        make_error(errc::unsupported_media_type,
                   "send the audio as Content-Type: audio/* or application/octet-stream"),
        sc->req.path));
  if (sc->req.body.empty())
    return done(error_response(field_error("body", "the audio is empty"), sc->req.path));
  // Staged, sealed under a key of its own, until the case that references it claims it.
  auto sha = recordings_.stage(sc->req.body);
  if (!sha) return done(error_response(sha.error(), sc->req.path));
  done(json_response(
      201,
      {{"sha256", sha.value()}, {"uri", "blob:" + sha.value()}, {"bytes", sc->req.body.size()}}));
}

// A call's audio is personal data, fetched through its case with the case's scope (a foreign
// case is 404 exactly as a missing one); each fetch is recorded under the case.
void api::impl::get_recording(const scope_ptr& sc, responder done) {
  const std::string& id = sc->match.params.at("id");
  auto found = visible_case(*sc, id);
  if (!found) return done(error_response(found.error(), sc->req.path));
  if (!found.value()) return done(error_response(case_not_found(id), sc->req.path));
  const auto& st = *found.value();
  if (!st.recording)
    return done(error_response(make_error(errc::gone, "the case has no recording"), sc->req.path));
  if (st.recording_purged_on)
    return done(error_response(
        make_error(errc::gone, "the recording was purged when its retention ended (Art. 38)"),
        sc->req.path));
  const std::string sha = st.recording->sha256;
  auto bytes = recordings_.open(sha, st.id);
  if (!bytes) {
    if (bytes.error().code == events::errc::not_found)
      return done(error_response(
          make_error(errc::gone, "the recording is no longer stored or was shredded (Art. 38)"),
          sc->req.path));
    if (integrity_failure(bytes.error()))
      integrity_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error(
        "{}", log_line("recording_unreadable", {{"case_id", valid_token_text(id, 64) ? id : "?"},
                                                {"correlation_id", sc->correlation_id},
                                                {"error", bytes.error().message()}}));
    return done(error_response(bytes.error(), sc->req.path));
  }
  if (auto rec = record_read(*sc, id); !rec) return done(error_response(rec.error(), sc->req.path));
  http_response r;
  r.content_type = "application/octet-stream";
  r.body = std::move(bytes).value();
  r.headers.emplace_back("ETag", "\"" + sha + "\"");
  done(std::move(r));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
