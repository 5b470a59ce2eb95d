// libFuzzer target over what the gateway decodes from untrusted bytes: the request target
// (percent-decoding, the query string, the route table) and every JSON body parser. Built only
// with clang (-DCASELINE_FUZZ=ON, see gateway/CMakeLists.txt). Input layout: the first byte
// picks the parser, the rest is its input.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "gateway/command_json.h"
#include "gateway/http.h"
#include "gateway/routes.h"

namespace {
constexpr std::string_view actions[] = {"answer", "not-accept", "redirect", "classify",
                                        "transfer", "escalate", "return", "extend",
                                        "reply", "revisit", "archive", "flag-major-urgent"};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace caseline;
  if (size == 0) return 0;
  const std::uint8_t pick = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (pick % 5) {
    case 0: {  // a request target: path, query, route
      const auto q = in.find('?');
      if (auto path = gateway::percent_decode(in.substr(0, q), false)) {
        (void)gateway::match_route("GET", *path);  // result unused: only must not crash
        (void)gateway::match_route("POST", *path);
      }
      std::multimap<std::string, std::string> query;
      if (q != std::string_view::npos) (void)gateway::parse_query(in.substr(q + 1), query);
      break;
    }
    case 1: {
      std::optional<timestamp> occurred;
      (void)gateway::parse_receive(in, occurred);
      break;
    }
    case 2: (void)gateway::parse_case_command(actions[(pick / 5) % std::size(actions)], in); break;
    case 3: (void)gateway::parse_unit(unit_id{"u"}, in); break;
    default: (void)gateway::parse_clock(in); break;
  }
  return 0;
}
