// librdkafka's own log lines go through spdlog as one JSON object per line, like every other
// log line of the server (never librdkafka's plain text on stderr).
#include "events/detail/rdkafka_handle.h"

#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

using namespace caseline::events;

TEST_CASE("librdkafka's log lines reach the logger as JSON objects") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::debug);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  {
    // Nothing listens on port 1: connecting fails and librdkafka says so in its log; the
    // broker debug context adds more lines.
    auto conf = detail::make_conf({{"bootstrap.servers", "127.0.0.1:1"}, {"debug", "broker"}});
    REQUIRE(conf);
    auto rk = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
    REQUIRE(rk);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.value().get(), 0, nullptr, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);  // cannot happen without a broker; freed if it does
  }  // destroyed: its threads are joined, nothing more is logged
  logger->flush();
  spdlog::set_default_logger(previous);

  const std::string text = captured.str();
  REQUIRE_MESSAGE(!text.empty(), "librdkafka logged nothing through spdlog");
  std::istringstream lines(text);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    CAPTURE(line);
    boost::system::error_code ec;
    const auto v = boost::json::parse(line, ec);
    REQUIRE(!ec);
    REQUIRE(v.is_object());
    CHECK(v.as_object().at("event").as_string() == "librdkafka");
    CHECK(v.as_object().contains("facility"));
    ++count;
  }
  CHECK(count > 0);
}

// Last in this file: no client of this process logs after it.
TEST_CASE("once the process exits, no log line is written from a client's thread") {
  // A Kafka reader's lane whose call outlived the reader closes its consumer when that call
  // ends, maybe while the process exits and spdlog's loggers are being freed: an exit handler
  // then closes the guards (close_exit_log_guards), and librdkafka's lines are dropped.
  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  detail::log_to_spdlog(nullptr, 3, "TEST", "while running");
  CHECK(static_cast<bool>(detail::exit_log_guard{}));
  detail::close_exit_log_guards();
  detail::log_to_spdlog(nullptr, 3, "TEST", "while exiting");
  CHECK_FALSE(static_cast<bool>(detail::exit_log_guard{}));
  logger->flush();
  spdlog::set_default_logger(previous);
  CHECK(captured.str().find("while running") != std::string::npos);
  CHECK(captured.str().find("while exiting") == std::string::npos);
}
