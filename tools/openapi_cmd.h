#pragma once

#include <ostream>
#include <string>

namespace caseline::tools {

// `caseline openapi`: the OpenAPI document with its paths produced from the route table
// (gateway/openapi_generator.h). Without a file it prints the generated form of the embedded
// document; with `--write FILE` (gateway/openapi.json) it rewrites FILE in place when the route
// table or the policy changed it, and says whether it did. Exit 0, or 1 when FILE cannot be read,
// parsed or written.
int run_openapi(const std::string& write_file, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
