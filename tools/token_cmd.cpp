#include "tools/token_cmd.h"

#include <filesystem>
#include <ostream>

#include "core/registry.h"
#include "events/errc.h"
#include "gateway/auth.h"
#include "gateway/problem.h"
#include "projections/clock.h"
#include "projections/registry_projection.h"
#include "projections/store.h"

namespace caseline::tools {

result<void> check_token_request(const token_request& r, const core::registry& reg) {
  const auto role = gateway::parse_role(r.role);
  if (!role) {
    std::string names;
    for (auto n : gateway::role_names()) names += (names.empty() ? "" : ", ") + std::string(n);
    return make_error(gateway::errc::invalid_field, "role: must be one of: " + names);
  }
  return gateway::check_token_scope(*role, center_code{r.center}, unit_id{r.unit}, reg);
}

result<projections::created_token> create_token(projections::store& s, const core::registry& reg,
                                                const token_request& r) {
  if (auto ok = check_token_request(r, reg); !ok) return ok.error();
  return projections::token_store(s).create(r.role, r.center, r.unit,
                                            projections::system_clock{}.now());
}

result<projections::created_token> create_token(const store_options& options,
                                                const token_request& r) {
  // Only a unit's registration needs the store: refuse the rest before creating one for nothing.
  if (r.role != "unit")
    if (auto ok = check_token_request(r, core::registry::henan()); !ok) return ok.error();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return make_error(events::errc::bad_config,
                      "cannot create " + options.data_dir + ": " + ec.message());
  auto s = projections::store::open((std::filesystem::path(options.data_dir) / "store").string());
  if (!s) return s.error();
  projections::registry_projection reg(*s.value());
  if (const auto& e = reg.load_error()) return *e;
  return create_token(*s.value(), *reg.snapshot(), r);
}

int run_token_create(const store_options& options, const token_request& r, std::ostream& out,
                     std::ostream& err) {
  auto t = create_token(options, r);
  if (!t) {
    err << "caseline token create: " << t.error().message() << "\n";
    return 1;
  }
  out << t.value().secret << "\n";
  err << "token " << t.value().info.id << " (" << r.role << ", center " << r.center
      << (r.unit.empty() ? "" : ", unit " + r.unit)
      << "): shown once, stored only as its SHA-256\n";
  return 0;
}

}  // namespace caseline::tools
