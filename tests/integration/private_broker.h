#pragma once

// What the tests of a broker that goes away share: a broker of the test's own
// (tools/kafka-local.sh start), so that the shared one stays up while the test stops or freezes
// this one, and a `caseline serve` child on it with an agent token.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/environment.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace caseline::test {

struct private_broker {
  std::unique_ptr<child_process> proc;  // kafka-local.sh start: the broker stops with it
  std::string bootstrap;

  private_broker() {
    const char* src = std::getenv("CASELINE_SOURCE_DIR");
    REQUIRE(src != nullptr);
    proc = std::make_unique<child_process>(
        std::vector<std::string>{"/bin/bash", std::string(src) + "/tools/kafka-local.sh", "start"});
    auto line = proc->wait_for_line("KAFKA_BOOTSTRAP=", std::chrono::seconds(240));
    REQUIRE_MESSAGE(line.has_value(), "private broker did not start: " << proc->output());
    bootstrap = line->substr(line->find('=') + 1);
  }
};

// `caseline serve` on a topic of its own named after `name` (2 partitions, a checkpoint every
// second) of the broker at `bootstrap`, and an agent token of center 410100 made before it.
struct agent_server {
  temp_dir dir;
  std::string token;
  std::unique_ptr<child_process> proc;
  std::string address;

  agent_server(const std::string& bootstrap, const std::string& name) {
    const std::string topic = unique_topic(name);
    {
      child_process create({caseline_binary(), "token", "create", "--data", dir.path(), "--role",
                            "agent", "--center", "410100", "--kafka", bootstrap, "--topic", topic,
                            "--partitions", "2"});
      REQUIRE_MESSAGE(create.wait(std::chrono::seconds(120)) == 0, create.output());
      token = token_in(create.output());
    }
    proc = std::make_unique<child_process>(std::vector<std::string>{
        caseline_binary(), "serve", "--listen", "127.0.0.1:0", "--data", dir.path(), "--kafka",
        bootstrap, "--topic", topic, "--partitions", "2", "--checkpoint-interval", "1"});
    address = listening_address(*proc, std::chrono::seconds(120));
  }
};

}  // namespace caseline::test
