#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace caseline::gateway {

// An IPv4 or IPv6 address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket
// reports an IPv4 peer) is the IPv4 address, so that both spellings count as one client.
struct ip_address {
  bool v6{false};
  std::array<unsigned char, 16> bytes{};  // IPv4: the first 4
  std::string to_string() const;
  friend bool operator==(const ip_address&, const ip_address&) = default;
};

// "192.0.2.1", "2001:db8::1"; nullopt for anything else (no port, brackets or zone).
std::optional<ip_address> parse_ip(std::string_view text);
// From the raw bytes a socket reports (4 or 16 of them).
ip_address ip_from_bytes(const unsigned char* bytes, std::size_t size);

// What per-address limits count under: an IPv4 address itself, an IPv6 address by its /64 (a
// single host commonly holds a whole /64, so counting each IPv6 address would not limit it).
std::string address_key(const ip_address& a);

// An address range: "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7").
struct ip_prefix {
  ip_address address;
  unsigned bits{0};
  bool contains(const ip_address& a) const;
};
std::optional<ip_prefix> parse_prefix(std::string_view text);

// The reverse proxies whose forwarding headers are believed (`serve --trusted-proxy`).
// Immutable after parse; thread-safe to read.
class trusted_proxies {
 public:
  trusted_proxies() = default;
  // Each entry ADDR or ADDR/PREFIX; an error names the first entry that is neither.
  static result<trusted_proxies> parse(const std::vector<std::string>& entries);
  bool contains(const ip_address& a) const;
  bool empty() const { return prefixes_.empty(); }

 private:
  std::vector<ip_prefix> prefixes_;
};

// The forwarding headers of one request, each header line's value in the order received.
struct forwarding_headers {
  std::vector<std::string_view> forwarded;        // RFC 7239 Forwarded
  std::vector<std::string_view> x_forwarded_for;  // X-Forwarded-For
};

// The address of the client a request comes from. Only when the peer (the TCP connection's
// address) is a trusted proxy are the headers read: `Forwarded` when present (its `for=`
// nodes), else `X-Forwarded-For`. The chain is walked from the right, through trusted proxies,
// to the first address that is not one (a client cannot choose its bucket by prepending
// entries). A hop that says `unknown` or an obfuscated identifier ends the walk at the proxy
// that reported it. A header that does not parse, or an element without `for=`, counts as no
// header: the peer's address. Never throws.
ip_address client_address(const ip_address& peer, const forwarding_headers& headers,
                          const trusted_proxies& trusted);

}  // namespace caseline::gateway
