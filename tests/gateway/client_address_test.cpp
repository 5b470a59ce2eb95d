// Who a request comes from: the peer, or the client a trusted proxy names in Forwarded
// (RFC 7239) or X-Forwarded-For; and the connection limiter's rules. Pure functions and one
// class, no sockets (tests/gateway/connection_limit_test.cpp runs them in the server).
#include "gateway/client_address.h"

#include <doctest/doctest.h>

#include "gateway/connection_limit.h"

using namespace caseline;
using namespace caseline::gateway;

namespace {

ip_address ip(std::string_view s) {
  auto a = parse_ip(s);
  REQUIRE(a);
  return *a;
}

trusted_proxies proxies(std::vector<std::string> entries) {
  auto t = trusted_proxies::parse(entries);
  REQUIRE(t);
  return std::move(t).value();
}

std::string via_forwarded(std::vector<std::string_view> values, const trusted_proxies& t,
                          std::string_view peer = "10.0.0.1") {
  return client_address(ip(peer), {std::move(values), {}}, t).to_string();
}

std::string via_xff(std::vector<std::string_view> values, const trusted_proxies& t,
                    std::string_view peer = "10.0.0.1") {
  return client_address(ip(peer), {{}, std::move(values)}, t).to_string();
}

}  // namespace

TEST_CASE("addresses, prefixes and the per-address key") {
  CHECK(ip("192.0.2.1").to_string() == "192.0.2.1");
  CHECK(ip("2001:DB8::1").to_string() == "2001:db8::1");
  // A dual-stack socket's IPv4 peer is the IPv4 address.
  CHECK(ip("::ffff:192.0.2.1") == ip("192.0.2.1"));
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "host", "[::1]", "1.2.3.4:80",
                          "fe80::1%eth0", " 1.2.3.4"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_ip(bad));
  }
  const auto net = parse_prefix("10.0.0.0/8");
  REQUIRE(net);
  CHECK(net->contains(ip("10.200.3.4")));
  CHECK_FALSE(net->contains(ip("11.0.0.1")));
  CHECK_FALSE(net->contains(ip("::a00:1")));  // an IPv6 address is never in an IPv4 range
  const auto six = parse_prefix("2001:db8::/32");
  REQUIRE(six);
  CHECK(six->contains(ip("2001:db8:ffff::1")));
  CHECK_FALSE(six->contains(ip("2001:db9::1")));
  const auto one = parse_prefix("192.0.2.7");
  REQUIRE(one);
  CHECK(one->contains(ip("192.0.2.7")));
  CHECK_FALSE(one->contains(ip("192.0.2.8")));
  CHECK(parse_prefix("0.0.0.0/0")->contains(ip("198.51.100.1")));
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/x", "x/8",
                          "10.0.0.0/-1"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_prefix(bad));
  }
  CHECK_FALSE(trusted_proxies::parse({"10.0.0.1", "nonsense"}));
  // IPv4 addresses count one by one; IPv6 ones by their /64.
  CHECK(address_key(ip("192.0.2.1")) == "192.0.2.1");
  CHECK(address_key(ip("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64");
  CHECK(address_key(ip("2001:db8:1:2:bbbb::9")) == address_key(ip("2001:db8:1:2:aaaa::1")));
  CHECK(address_key(ip("2001:db8:1:3::1")) != address_key(ip("2001:db8:1:2::1")));
}

TEST_CASE("forwarding headers from a peer that is not a trusted proxy are ignored") {
  const auto t = proxies({"10.0.0.0/8"});
  CHECK(via_xff({"203.0.113.7"}, t, "192.0.2.50") == "192.0.2.50");
  CHECK(via_forwarded({"for=203.0.113.7"}, t, "192.0.2.50") == "192.0.2.50");
  CHECK(via_xff({"203.0.113.7"}, trusted_proxies{}) == "10.0.0.1");
}

TEST_CASE("X-Forwarded-For from a trusted proxy: the rightmost address that is no trusted proxy") {
  const auto t = proxies({"10.0.0.0/8", "2001:db8:ff::/48"});
  CHECK(via_xff({"203.0.113.7"}, t) == "203.0.113.7");
  // What the client wrote itself sits further left and is never chosen.
  CHECK(via_xff({"198.51.100.1, 203.0.113.7"}, t) == "203.0.113.7");
  CHECK(via_xff({"198.51.100.1,203.0.113.7 , 10.0.0.2"}, t) == "203.0.113.7");
  // Header lines are one list, in order.
  CHECK(via_xff({"198.51.100.1", "203.0.113.7", "10.0.0.3"}, t) == "203.0.113.7");
  // Trusted all the way: the leftmost.
  CHECK(via_xff({"10.0.0.9, 10.0.0.2"}, t) == "10.0.0.9");
  // Ports and IPv6 forms that proxies write.
  CHECK(via_xff({"203.0.113.7:5123"}, t) == "203.0.113.7");
  CHECK(via_xff({"2001:db8::5"}, t) == "2001:db8::5");
  CHECK(via_xff({"[2001:db8::5]:443"}, t) == "2001:db8::5");
  CHECK(via_xff({"203.0.113.7, 2001:db8:ff::1"}, t, "2001:db8:ff::2") == "203.0.113.7");
  // A hop that does not know its client: the proxy that said so.
  CHECK(via_xff({"unknown, 10.0.0.2"}, t) == "10.0.0.2");
  CHECK(via_xff({"unknown"}, t) == "10.0.0.1");
  // A long chain is walked, not refused.
  std::string many;
  for (int i = 0; i < 500; ++i) many += "198.51.100.1, ";
  many += "203.0.113.7";
  CHECK(via_xff({many}, t) == "203.0.113.7");
}

TEST_CASE("Forwarded (RFC 7239) from a trusted proxy, and it takes precedence") {
  const auto t = proxies({"10.0.0.0/8"});
  CHECK(via_forwarded({"for=192.0.2.60;proto=http;by=203.0.113.43"}, t) == "192.0.2.60");
  CHECK(via_forwarded({R"(For="[2001:db8:cafe::17]:4711")"}, t) == "2001:db8:cafe::17");
  CHECK(via_forwarded({R"(for="192.0.2.43:47011")"}, t) == "192.0.2.43");
  CHECK(via_forwarded({"for=192.0.2.43, for=198.51.100.17"}, t) == "198.51.100.17");
  CHECK(via_forwarded({"for=192.0.2.43", "for=198.51.100.17;by=10.0.0.1, for=10.0.0.5"}, t) ==
        "198.51.100.17");
  CHECK(via_forwarded({R"(for="192.0.\2.43")"}, t) == "192.0.2.43");  // a quoted-pair
  CHECK(via_forwarded({" for=192.0.2.43 ; proto=https "}, t) == "192.0.2.43");
  CHECK(via_forwarded({"for=_hidden, for=10.0.0.2"}, t) == "10.0.0.2");
  CHECK(via_forwarded({"for=unknown"}, t) == "10.0.0.1");
  // Forwarded wins over X-Forwarded-For.
  CHECK(client_address(ip("10.0.0.1"), {{"for=192.0.2.60"}, {"203.0.113.7"}}, t).to_string() ==
        "192.0.2.60");
}

TEST_CASE("a malformed forwarding header from a trusted proxy counts as none: the peer") {
  const auto t = proxies({"10.0.0.0/8"});
  for (const char* bad :
       {"", "for=", "for", "=192.0.2.1", R"(for="192.0.2.1)", "for=192.0.2.1;for=192.0.2.2",
        "proto=https", "for=192.0.2.1,", "for=192.0.2.1,,for=192.0.2.2", "for=300.1.1.1",
        "for=[2001:db8::1]", R"(for="[2001:db8::1")", R"(for="[192.0.2.1]")",
        R"(for="192.0.2.1:port")", "for=192.0.2.1 x", "for=\xff\xfe", "for=192.0.2.1;", R"(for="\)",
        "for=_"}) {
    CAPTURE(bad);
    CHECK(via_forwarded({bad}, t) == "10.0.0.1");
  }
  // A bad Forwarded is not replaced by X-Forwarded-For.
  CHECK(client_address(ip("10.0.0.1"), {{"for="}, {"203.0.113.7"}}, t).to_string() == "10.0.0.1");
  // One bad line spoils the whole header.
  CHECK(via_forwarded({"for=192.0.2.60", "nonsense"}, t) == "10.0.0.1");
  for (const char* bad : {"", " ", "abc", "203.0.113.7,", ",203.0.113.7", "203.0.113.7 10.0.0.2",
                          "203.0.113.7:99999", "[2001:db8::1", "\xff", "203.0.113.7;x"}) {
    CAPTURE(bad);
    CHECK(via_xff({bad}, t) == "10.0.0.1");
  }
}

TEST_CASE("connection_limiter: per address, in total, a share kept for others") {
  SUBCASE("per address, and released ones count no more") {
    connection_limiter l({100, 3});
    for (int i = 0; i < 3; ++i) CHECK(l.admit("a", false) == refusal::none);
    CHECK(l.admit("a", false) == refusal::per_address);
    CHECK(l.admit("b", false) == refusal::none);
    l.release("a");
    CHECK(l.admit("a", false) == refusal::none);
    CHECK(l.open_from("a") == 3);
    const auto s = l.stats();
    CHECK(s.open == 4);
    CHECK(s.accepted == 5);
    CHECK(s.refused[static_cast<std::size_t>(refusal::per_address)] == 1);
  }
  SUBCASE("one address never takes more than half the total, whatever it is given") {
    connection_limiter l({10, 1000});
    CHECK(l.stats().per_address_limit == 5);
    for (int i = 0; i < 5; ++i) CHECK(l.admit("a", false) == refusal::none);
    CHECK(l.admit("a", false) == refusal::per_address);
  }
  SUBCASE("the total, for trusted proxies too") {
    connection_limiter l({8, 4});
    for (const char* k : {"a", "a", "a", "a", "b", "b", "b", "b"})
      CHECK(l.admit(k, false) == refusal::none);
    CHECK(l.admit("c", false) == refusal::total);
    CHECK(l.admit("p", true) == refusal::total);
    l.release("b");
    CHECK(l.admit("c", false) == refusal::none);
  }
  SUBCASE("the last tenth goes only to addresses holding few connections") {
    connection_limiter l({100, 50});
    for (int i = 0; i < 50; ++i) REQUIRE(l.admit("a", false) == refusal::none);
    for (int i = 0; i < 40; ++i) REQUIRE(l.admit("b", false) == refusal::none);
    // 90 open: "b" holds 40, more than reserve_holding.
    CHECK(l.admit("b", false) == refusal::reserved);
    for (std::size_t i = 0; i < connection_limiter::reserve_holding; ++i)
      CHECK(l.admit("c", false) == refusal::none);
    CHECK(l.admit("c", false) == refusal::reserved);
    CHECK(l.admit("d", false) == refusal::none);
  }
  SUBCASE("a trusted proxy is limited only by the total") {
    connection_limiter l({100, 2});
    for (int i = 0; i < 95; ++i) CHECK(l.admit("proxy", true) == refusal::none);
    CHECK(l.admit("x", false) == refusal::none);
  }
  SUBCASE("the metrics name every reason") {
    connection_limiter l({4, 2});
    l.count_refusal(refusal::fd_exhausted);
    int reasons = 0;
    for (const auto& g : connection_gauges(l.stats()))
      if (g.name == "caseline_connections_refused_total") {
        ++reasons;
        if (g.labels.at(0).second == "fd_exhausted") CHECK(g.value == 1);
      }
    CHECK(reasons == 4);
  }
}
