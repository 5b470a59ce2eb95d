#pragma once

// `caseline calendar publish FILE --url URL --token TOKEN`: publishes each year of a calendar
// data file through a running server (PUT /v1/calendar/{year}, an admin token), so that every
// instance and every replay counts on it from that log position, and pending deadlines counted
// on the provisional year are revised. Prints one line per year, the server's answer; exit 0 when
// every year was taken, 1 when the server refused one (its problem detail on stderr), 2 for
// malformed arguments or a file that does not parse.

#include <ostream>
#include <string>

namespace caseline::tools {

struct calendar_publish_options {
  std::string file;
  std::string url{"http://127.0.0.1:8080"};
  std::string token;
};

int run_calendar_publish(const calendar_publish_options& o, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
