#include "tools/openapi_cmd.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/openapi.h"
#include "gateway/openapi_generator.h"

namespace caseline::tools {

int run_openapi(const std::string& write_file, std::ostream& out, std::ostream& err) {
  if (write_file.empty()) {
    auto doc = gateway::generate_openapi(gateway::openapi_document());
    if (!doc) {
      err << "caseline openapi: " << doc.error().message() << "\n";
      return 1;
    }
    out << doc.value();
    return 0;
  }
  std::string current;
  {
    std::ifstream in(write_file, std::ios::binary);
    if (!in) {
      err << "caseline openapi: cannot read " << write_file << "\n";
      return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    current = text.str();
  }
  auto doc = gateway::generate_openapi(current);
  if (!doc) {
    err << "caseline openapi: " << write_file << ": " << doc.error().message() << "\n";
    return 1;
  }
  if (doc.value() == current) {
    out << write_file << ": up to date\n";
    return 0;
  }
  // Written beside it, then renamed over it: an interrupted run leaves the old file whole.
  const std::string tmp = write_file + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!(f << doc.value()) || !f.flush()) {
      err << "caseline openapi: cannot write " << tmp << "\n";
      return 1;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, write_file, ec);
  if (ec) {
    err << "caseline openapi: cannot rename " << tmp << ": " << ec.message() << "\n";
    return 1;
  }
  out << write_file << ": written from the route table\n";
  return 0;
}

}  // namespace caseline::tools
