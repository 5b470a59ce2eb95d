#include "events/field_crypto.h"

#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "events/errc.h"

using namespace caseline;
using namespace caseline::events;

TEST_CASE("a sealed field opens with its key at its place, and only there") {
  const auto key = secret_key::random();
  const std::string plain = "张三 13800000000 公交车不停站";
  const std::string sealed = seal_field(key, "410100-20261129-000001", "410100-20261129-000001#1",
                                        "content", plain);
  CHECK(is_sealed_field(sealed));
  CHECK(sealed.find(plain) == std::string::npos);
  CHECK(sealed.find("13800000000") == std::string::npos);
  auto opened = open_field(key, "410100-20261129-000001", "content", sealed,
                           "410100-20261129-000001#1");
  REQUIRE(opened);
  CHECK(opened.value() == plain);

  SUBCASE("a fresh nonce each time") {
    CHECK(seal_field(key, "c", "c#1", "content", plain) !=
          seal_field(key, "c", "c#1", "content", plain));
  }
  SUBCASE("another case, field or event does not verify") {
    CHECK(open_field(key, "410100-20261129-000002", "content", sealed).error().code ==
          errc::corrupt_record);
    CHECK(open_field(key, "410100-20261129-000001", "caller.name", sealed).error().code ==
          errc::corrupt_record);
    CHECK(open_field(key, "410100-20261129-000001", "content", sealed, "410100-20261129-000001#2")
              .error()
              .code == errc::corrupt_record);
  }
  SUBCASE("another key does not verify") {
    CHECK(open_field(secret_key::random(), "410100-20261129-000001", "content", sealed)
              .error()
              .code == errc::corrupt_record);
  }
  SUBCASE("any flipped byte of the ciphertext or tag fails") {
    for (std::size_t i = 3 + 24; i < sealed.size(); ++i) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      CHECK_FALSE(open_field(key, "410100-20261129-000001", "content", bad));
    }
  }
  SUBCASE("plain text is not taken for a sealed field") {
    CHECK_FALSE(is_sealed_field(plain));
    CHECK(open_field(key, "c", "content", plain).error().code == errc::corrupt_record);
  }
}

namespace {
std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}
}  // namespace

// Each thread keeps its last key set in OpenSSL (field_crypto.cpp): a field sealed or opened
// with another key, or after a failure, must use its own key all the same.
TEST_CASE("a thread seals and opens with each call's own key, whatever it used before") {
  // AES-256-GCM test case 16 of the GCM specification (McGrew and Viega): key, nonce, data,
  // associated data, ciphertext and tag.
  const secret_key known(
      from_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"));
  const std::string known_plain = from_hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
      "49a6b525b16aedf5aa0de657ba637b39");
  const std::string known_aad = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string known_sealed = from_hex(
      "cafebabefacedbaddecaf888"
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
      "56828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  const auto opens_known = [&] {
    auto r = aes_gcm_open(known, known_sealed, known_aad);
    return r && r.value() == known_plain;
  };
  const auto a = secret_key::random();
  const auto b = secret_key::random();
  const std::string sa = seal_field(a, "c", "c#1", "content", "with a");
  CHECK(opens_known());
  const std::string sb = seal_field(b, "c", "c#1", "content", "with b");
  const std::string sa2 = seal_field(a, "c", "c#2", "content", "with a again");
  CHECK(open_field(b, "c", "content", sb).value() == "with b");
  CHECK(open_field(a, "c", "content", sa).value() == "with a");
  CHECK(open_field(a, "c", "content", sb).error().code == errc::corrupt_record);
  CHECK(open_field(b, "c", "content", sa2).error().code == errc::corrupt_record);
  // After a failure, with the key of the failure and with another.
  CHECK(open_field(b, "c", "content", sb).value() == "with b");
  CHECK(open_field(b, "c", "content", sa).error().code == errc::corrupt_record);
  CHECK(opens_known());
  CHECK(open_field(a, "c", "content", sa2).value() == "with a again");
  CHECK(opens_known());
  CHECK(opens_known());  // twice in a row: the key kept
  std::string bad = known_sealed;
  bad.back() = static_cast<char>(bad.back() ^ 0x01);
  CHECK_FALSE(aes_gcm_open(known, bad, known_aad));
  CHECK(opens_known());
  // The same key from opening to sealing and back (a command that reads a case's fields and
  // seals new ones): what is sealed opens on another thread.
  CHECK(open_field(a, "c", "content", sa).value() == "with a");
  const std::string sa3 = seal_field(a, "c", "c#4", "content", "sealed after an open");
  CHECK(open_field(a, "c", "content", sa3).value() == "sealed after an open");
  // What this thread sealed opens on a thread that never used another key, and the reverse.
  std::string from_other;
  bool other_opened = false;
  std::thread([&] {
    other_opened = open_field(b, "c", "content", sb).value() == "with b" &&
                   open_field(a, "c", "content", sa2).value() == "with a again" &&
                   open_field(a, "c", "content", sa3).value() == "sealed after an open";
    from_other = seal_field(b, "c", "c#3", "content", "sealed elsewhere");
  }).join();
  CHECK(other_opened);
  CHECK(open_field(b, "c", "content", from_other).value() == "sealed elsewhere");
  CHECK(open_field(a, "c", "content", from_other).error().code == errc::corrupt_record);
}

TEST_CASE("empty text stays empty; keys parse from 64 hex digits only") {
  const auto key = secret_key::random();
  CHECK(seal_field(key, "c", "c#1", "content", "").empty());
  CHECK(open_field(key, "c", "content", "").value().empty());
  CHECK(secret_key::from_hex(std::string(64, 'a')));
  CHECK(secret_key::from_hex(std::string(64, 'a') + "\n"));
  CHECK_FALSE(secret_key::from_hex(std::string(63, 'a')));
  CHECK_FALSE(secret_key::from_hex(std::string(63, 'a') + "g"));
}

// Keys and nonces are drawn from a pool of DRBG output per thread (field_crypto.cpp): each byte
// is handed out once, across threads and in a forked child, which would otherwise take the very
// bytes its parent takes next.
TEST_CASE("random keys are never handed out twice: many, on several threads, after a fork") {
  std::set<std::string> seen;
  std::size_t repeated = 0;
  std::mutex mu;
  const auto keep = [&](const secret_key& k) {
    std::lock_guard lk(mu);
    if (!seen.insert(std::string(k.view())).second) ++repeated;
  };
  // Past one pool's worth on each thread.
  std::vector<std::thread> threads;
  threads.reserve(3);
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) keep(secret_key::random());
    });
  for (auto& t : threads) t.join();
  CHECK(repeated == 0);
  CHECK(seen.size() == 600);

  // A child's first key, read through a pipe.
  const auto key_from_child = []() -> std::string {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // no doctest here: the child writes its key and leaves at once
      const auto k = secret_key::random();
      const auto written = write(fds[1], k.view().data(), k.view().size());
      _exit(written == static_cast<ssize_t>(secret_key::size) ? 0 : 1);
    }
    close(fds[1]);
    std::string out(secret_key::size, '\0');
    std::size_t got = 0;
    while (got < out.size()) {
      const auto n = read(fds[0], out.data() + got, out.size() - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(got == out.size());
    return out;
  };
  // Twice: one of the two forks finds this thread's pool with a key's worth left, which a child
  // that kept its parent's pool would hand out again.
  for (int round = 0; round < 2; ++round) {
    INFO("fork " << round);
    keep(secret_key::random());  // this thread's pool, partly used, is what the child inherits
    const std::string theirs = key_from_child();
    const auto mine = secret_key::random();  // the bytes the child would have reused
    CHECK(std::string(mine.view()) != theirs);
    keep(mine);
    std::lock_guard lk(mu);
    CHECK(seen.insert(theirs).second);
  }
  CHECK(repeated == 0);
}
