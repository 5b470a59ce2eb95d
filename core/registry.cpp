#include "core/registry.h"

#include "core/errc.h"

namespace caseline::core {

registry registry::henan() {
  struct row {
    const char* code;
    const char* name;
  };
  // GB/T 2260: the 17 prefecture-level cities, Jiyuan (a provincially administered city), and
  // the counties administered directly by the province.
  static constexpr row cities[] = {
      {"410100", "郑州市"},   {"410200", "开封市"}, {"410300", "洛阳市"},   {"410400", "平顶山市"},
      {"410500", "安阳市"},   {"410600", "鹤壁市"}, {"410700", "新乡市"},   {"410800", "焦作市"},
      {"410900", "濮阳市"},   {"411000", "许昌市"}, {"411100", "漯河市"},   {"411200", "三门峡市"},
      {"411300", "南阳市"},   {"411400", "商丘市"}, {"411500", "信阳市"},   {"411600", "周口市"},
      {"411700", "驻马店市"}, {"419001", "济源市"}, {"410181", "巩义市"},   {"410225", "兰考县"},
      {"410482", "汝州市"},   {"410526", "滑县"},   {"410783", "长垣市"},   {"411381", "邓州市"},
      {"411481", "永城市"},   {"411525", "固始县"}, {"411628", "鹿邑县"},   {"411729", "新蔡县"},
  };
  registry r;
  r.add_center(center_info{center_code{provincial_center}, "河南省", std::nullopt});
  for (const auto& c : cities)
    r.add_center(center_info{center_code{c.code}, c.name, center_code{provincial_center}});
  return r;
}

const center_info* registry::center(const center_code& code) const {
  const auto it = centers_.find(code);
  return it == centers_.end() ? nullptr : &it->second;
}

const unit_info* registry::unit(const unit_id& id) const {
  const auto it = units_.find(id);
  return it == units_.end() ? nullptr : &it->second;
}

std::optional<center_code> registry::upper_center(const center_code& code) const {
  const center_info* c = center(code);
  return c == nullptr ? std::nullopt : c->parent;
}

std::vector<center_info> registry::centers() const {
  std::vector<center_info> out;
  for (const auto& [code, c] : centers_) out.push_back(c);
  return out;
}

std::vector<unit_info> registry::units_of(const center_code& code) const {
  std::vector<unit_info> out;
  for (const auto& [id, u] : units_)
    if (u.center == code) out.push_back(u);
  return out;
}

result<void> registry::check(const unit_registered& e) const {
  if (center(e.center) == nullptr) return make_error(errc::unknown_center, e.center());
  if (e.unit().empty()) return make_error(errc::invalid_argument, "unit id");
  if (e.name.empty()) return make_error(errc::invalid_argument, "unit name");
  if (e.contact.name.empty() || e.contact.mobile.empty())
    return make_error(errc::invalid_argument,
                      "a unit names a responsible contact with a mobile number (Art. 31)");
  return success();
}

void registry::apply(const unit_registered& e) {
  units_[e.unit] = unit_info{e.unit, e.name, e.center, e.contact, e.contact_sealed};
}

void registry::add_center(center_info c) {
  const center_code code = c.code;
  centers_[code] = std::move(c);
}

}  // namespace caseline::core
