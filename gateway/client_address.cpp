#include "gateway/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/errc.h"

namespace caseline::gateway {

namespace {

constexpr std::array<unsigned char, 12> v4_mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 9110 tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// One hop of a forwarding chain: an address, or a node that names none (`unknown`, `_hidden`).
struct hop {
  std::optional<ip_address> address;
};

// RFC 7239 §6: a port after an address is digits or an obfuscated identifier.
bool valid_port(std::string_view p) {
  if (all_digits(p)) return p.size() <= 5 && std::stoul(std::string(p)) <= 65535;
  return p.size() >= 2 && p.front() == '_' &&
         std::all_of(p.begin() + 1, p.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '_' || c == '-';
         });
}

// A node: "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80", a bare IPv6
// address (X-Forwarded-For), "unknown" or "_obfuscated". nullopt: malformed.
std::optional<hop> parse_node(std::string_view n) {
  if (n.empty()) return std::nullopt;
  if (iequals(n, "unknown")) return hop{};
  if (n.front() == '_') {
    if (!valid_port(n)) return std::nullopt;  // same alphabet as an obfuscated port
    return hop{};
  }
  if (n.front() == '[') {
    const auto close = n.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto rest = n.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !valid_port(rest.substr(1)))) return std::nullopt;
    auto a = parse_ip(n.substr(1, close - 1));
    if (!a || !a->v6) {
      // "[192.0.2.1]" is not a form of RFC 7239; an IPv4-mapped one is an IPv6 literal.
      if (!a || n.substr(1, close - 1).find(':') == std::string_view::npos) return std::nullopt;
    }
    return hop{a};
  }
  const auto colons = std::count(n.begin(), n.end(), ':');
  if (colons == 1) {  // IPv4 with a port
    const auto c = n.find(':');
    if (!valid_port(n.substr(c + 1))) return std::nullopt;
    auto a = parse_ip(n.substr(0, c));
    if (!a || a->v6) return std::nullopt;
    return hop{a};
  }
  auto a = parse_ip(n);
  if (!a) return std::nullopt;
  return hop{a};
}

// RFC 7239 §4: Forwarded = 1#forwarded-element; element = pair *( ";" pair );
// pair = token "=" ( token / quoted-string ). Appends each element's `for` node; false when the
// value does not parse or an element has no (or two) `for`.
bool parse_forwarded(std::string_view s, std::vector<hop>& out) {
  std::size_t i = 0;
  const auto skip_ows = [&] {
    while (i < s.size() && is_ows(s[i])) ++i;
  };
  for (;;) {
    skip_ows();
    std::optional<hop> node;
    bool has_for = false;
    for (;;) {  // the pairs of one element
      skip_ows();
      const auto name_start = i;
      while (i < s.size() && is_tchar(s[i])) ++i;
      const auto name = s.substr(name_start, i - name_start);
      if (name.empty() || i >= s.size() || s[i] != '=') return false;
      ++i;
      std::string value;
      if (i < s.size() && s[i] == '"') {
        ++i;
        bool closed = false;
        while (i < s.size()) {
          const char c = s[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= s.size()) return false;
            value += s[i++];
          } else {
            value += c;
          }
        }
        if (!closed) return false;
      } else {
        const auto v_start = i;
        while (i < s.size() && is_tchar(s[i])) ++i;
        value = std::string(s.substr(v_start, i - v_start));
        if (value.empty()) return false;
      }
      if (iequals(name, "for")) {
        if (has_for) return false;
        has_for = true;
        node = parse_node(value);
        if (!node) return false;
      }
      skip_ows();
      if (i < s.size() && s[i] == ';') {
        ++i;
        continue;
      }
      break;
    }
    if (!has_for) return false;
    out.push_back(*node);
    skip_ows();
    if (i == s.size()) return true;
    if (s[i] != ',') return false;
    ++i;
  }
}

// X-Forwarded-For: a comma-separated list of nodes.
bool parse_x_forwarded_for(std::string_view s, std::vector<hop>& out) {
  for (;;) {
    const auto comma = s.find(',');
    auto node = parse_node(trim(s.substr(0, comma)));
    if (!node) return false;
    out.push_back(*node);
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf)) return {};
  return buf;
}

ip_address ip_from_bytes(const unsigned char* bytes, std::size_t size) {
  ip_address a;
  if (size == 4) {
    std::memcpy(a.bytes.data(), bytes, 4);
  } else if (size == 16 && std::equal(v4_mapped.begin(), v4_mapped.end(), bytes)) {
    std::memcpy(a.bytes.data(), bytes + 12, 4);
  } else if (size == 16) {
    a.v6 = true;
    std::memcpy(a.bytes.data(), bytes, 16);
  }
  return a;
}

std::optional<ip_address> parse_ip(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  unsigned char raw[16] = {};
  if (text.find(':') != std::string_view::npos) {
    if (::inet_pton(AF_INET6, buf, raw) != 1) return std::nullopt;
    return ip_from_bytes(raw, 16);
  }
  if (::inet_pton(AF_INET, buf, raw) != 1) return std::nullopt;
  return ip_from_bytes(raw, 4);
}

std::string address_key(const ip_address& a) {
  if (!a.v6) return a.to_string();
  ip_address net = a;
  std::fill(net.bytes.begin() + 8, net.bytes.end(), 0);
  return net.to_string() + "/64";
}

bool ip_prefix::contains(const ip_address& a) const {
  if (a.v6 != address.v6) return false;
  unsigned left = bits;
  for (std::size_t i = 0; left > 0; ++i) {
    const unsigned take = std::min(left, 8u);
    const auto mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((a.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
    left -= take;
  }
  return true;
}

std::optional<ip_prefix> parse_prefix(std::string_view text) {
  const auto slash = text.find('/');
  auto a = parse_ip(text.substr(0, slash));
  if (!a) return std::nullopt;
  const unsigned max_bits = a->v6 ? 128 : 32;
  // "::ffff:10.0.0.0/104" names IPv4 addresses; say it as 10.0.0.0/8 instead.
  if (!a->v6 && text.substr(0, slash).find(':') != std::string_view::npos &&
      slash != std::string_view::npos)
    return std::nullopt;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const auto b = text.substr(slash + 1);
    if (!all_digits(b) || b.size() > 3) return std::nullopt;
    bits = static_cast<unsigned>(std::stoul(std::string(b)));
    if (bits > max_bits) return std::nullopt;
  }
  return ip_prefix{*a, bits};
}

result<trusted_proxies> trusted_proxies::parse(const std::vector<std::string>& entries) {
  trusted_proxies t;
  for (const auto& e : entries) {
    auto p = parse_prefix(trim(e));
    if (!p)
      return make_error(core::errc::invalid_argument,
                        "trusted proxy \"" + e + "\" is not ADDR or ADDR/PREFIX");
    t.prefixes_.push_back(*p);
  }
  return t;
}

bool trusted_proxies::contains(const ip_address& a) const {
  return std::any_of(prefixes_.begin(), prefixes_.end(),
                     [&](const ip_prefix& p) { return p.contains(a); });
}

ip_address client_address(const ip_address& peer, const forwarding_headers& headers,
                          const trusted_proxies& trusted) {
  if (!trusted.contains(peer)) return peer;
  std::vector<hop> chain;
  bool parsed = true;
  if (!headers.forwarded.empty()) {
    for (const auto v : headers.forwarded) parsed = parsed && parse_forwarded(v, chain);
  } else {
    for (const auto v : headers.x_forwarded_for) parsed = parsed && parse_x_forwarded_for(v, chain);
  }
  if (!parsed) return peer;
  // From the right: the nearest hop that is not a trusted proxy is the client.
  ip_address last_trusted = peer;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!it->address) return last_trusted;  // the proxy that could not name its client
    if (!trusted.contains(*it->address)) return *it->address;
    last_trusted = *it->address;
  }
  return last_trusted;  // trusted all the way: the leftmost one
}

}  // namespace caseline::gateway
