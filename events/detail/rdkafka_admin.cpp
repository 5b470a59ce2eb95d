#include "events/detail/rdkafka_admin.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <thread>
#include <vector>

#include "events/errc.h"

namespace caseline::events::detail {

namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds left(clock::time_point deadline) {
  return std::max(std::chrono::milliseconds{1},
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

// The topic as the cluster's metadata shows it (no configs).
result<topic_description> read_metadata(rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                                        std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, to_ms(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return translate(err, "metadata request");
  metadata_ptr owned{md};
  topic_description d;
  d.brokers = md->broker_cnt;
  if (md->topic_cnt != 1) return d;
  const rd_kafka_metadata_topic_t& t = md->topics[0];
  if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return d;
  d.exists = true;
  d.topic_error = t.err != RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; i < t.partition_cnt; ++i) {
    const rd_kafka_metadata_partition_t& p = t.partitions[i];
    partition_replicas r;
    r.id = p.id;
    r.leader = p.err == RD_KAFKA_RESP_ERR_NO_ERROR ? p.leader : -1;
    r.replicas.assign(p.replicas, p.replicas + p.replica_cnt);
    r.in_sync.assign(p.isrs, p.isrs + p.isr_cnt);
    d.partitions.push_back(std::move(r));
  }
  return d;
}

// What ensure_topic needs of the metadata.
struct topic_state {
  int brokers{};
  bool exists{};
  int partitions{};
  bool all_led{};  // every partition has a leader and no error
};

result<topic_state> describe(rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                             std::chrono::milliseconds timeout) {
  auto d = read_metadata(rk, rkt, timeout);
  if (!d) return std::move(d).error();
  const topic_description& t = d.value();
  const bool led = std::all_of(t.partitions.begin(), t.partitions.end(),
                               [](const partition_replicas& p) { return p.leader >= 0; });
  return topic_state{t.brokers, t.exists, static_cast<int>(t.partitions.size()),
                     t.exists && !t.topic_error && !t.partitions.empty() && led};
}

result<event_ptr> await_admin_result(rd_kafka_queue_t* q, std::chrono::milliseconds timeout,
                                     const char* what) {
  event_ptr ev{rd_kafka_queue_poll(q, to_ms(timeout))};
  if (!ev) return make_error(errc::unavailable, std::string{what} + ": no answer in time");
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error e = translate(rd_kafka_event_error(ev.get()), what);
    e.detail += std::string{": "} + rd_kafka_event_error_string(ev.get());
    return e;
  }
  return ev;
}

result<rdkafka_ptr<rd_kafka_AdminOptions_t>> admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                                            std::chrono::milliseconds timeout) {
  rdkafka_ptr<rd_kafka_AdminOptions_t> opts{rd_kafka_AdminOptions_new(rk, op)};
  char errstr[512];
  if (rd_kafka_AdminOptions_set_request_timeout(opts.get(), to_ms(timeout), errstr,
                                                sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(errc::bad_config, std::string{"admin request timeout: "} + errstr);
  }
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
      rd_kafka_AdminOptions_set_operation_timeout(opts.get(), to_ms(timeout), errstr,
                                                  sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(errc::bad_config, std::string{"admin operation timeout: "} + errstr);
  }
  return opts;
}

result<void> create(rd_kafka_t* rk, const topic_spec& spec, int replication_factor,
                    std::chrono::milliseconds timeout) {
  char errstr[512];
  rdkafka_ptr<rd_kafka_NewTopic_t> nt{rd_kafka_NewTopic_new(
      spec.name.c_str(), spec.partitions, replication_factor, errstr, sizeof errstr)};
  if (!nt) return make_error(errc::bad_config, "topic " + spec.name + ": " + errstr);
  const std::string min_isr = std::to_string(std::min(2, replication_factor));
  std::vector<std::pair<const char*, const char*>> configs = {
      {"unclean.leader.election.enable", "false"},
      {"min.insync.replicas", min_isr.c_str()},
  };
  if (spec.keys) {
    configs.emplace_back("cleanup.policy", "compact");
    configs.insert(configs.end(), std::begin(keys_topic_configs), std::end(keys_topic_configs));
  } else {
    configs.insert(
        configs.end(),
        {{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}});
  }
  for (const auto& [name, value] : configs) {
    if (rd_kafka_NewTopic_set_config(nt.get(), name, value) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return make_error(errc::bad_config, std::string{"topic config "} + name);
    }
  }
  auto opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  if (!opts) return std::move(opts).error();
  queue_ptr q{rd_kafka_queue_new(rk)};
  rd_kafka_NewTopic_t* topics[] = {nt.get()};
  rd_kafka_CreateTopics(rk, topics, 1, opts.value().get(), q.get());
  auto ev = await_admin_result(q.get(), timeout + std::chrono::seconds(5), "create topic");
  if (!ev) return std::move(ev).error();
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.value().get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    // Someone else created it meanwhile: it is checked like any existing topic.
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    error e = translate(err, "create topic " + spec.name);
    if (const char* s = rd_kafka_topic_result_error_string(results[i])) e.detail += ": " + std::string{s};
    return e;
  }
  return success();
}

result<std::map<std::string, std::string>> topic_configs(rd_kafka_t* rk, const std::string& topic,
                                                         std::chrono::milliseconds timeout) {
  auto opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  if (!opts) return std::move(opts).error();
  rdkafka_ptr<rd_kafka_ConfigResource_t> res{
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str())};
  queue_ptr q{rd_kafka_queue_new(rk)};
  rd_kafka_ConfigResource_t* resources[] = {res.get()};
  rd_kafka_DescribeConfigs(rk, resources, 1, opts.value().get(), q.get());
  auto ev = await_admin_result(q.get(), timeout + std::chrono::seconds(5), "describe topic configs");
  if (!ev) return std::move(ev).error();
  const rd_kafka_DescribeConfigs_result_t* r = rd_kafka_event_DescribeConfigs_result(ev.value().get());
  size_t n = 0;
  const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(r, &n);
  if (n != 1) return make_error(errc::unavailable, "describe topic configs: no answer for " + topic);
  // A broker that has not yet heard of a topic another client has just created: asked again.
  if (rd_kafka_ConfigResource_error(described[0]) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    return make_error(errc::unavailable, "describe configs of " + topic + ": not known yet");
  if (rd_kafka_ConfigResource_error(described[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return translate(rd_kafka_ConfigResource_error(described[0]), "describe configs of " + topic);
  }
  std::map<std::string, std::string> out;
  size_t m = 0;
  const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[0], &m);
  for (size_t i = 0; i < m; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    out[rd_kafka_ConfigEntry_name(entries[i])] = value ? value : "";
  }
  return out;
}

result<void> check_configs(const topic_spec& spec,
                           const std::map<std::string, std::string>& configs) {
  const std::string& topic = spec.name;
  auto refuse = [&](const std::string& name, const std::string& want) -> result<void> {
    auto it = configs.find(name);
    const std::string have = it == configs.end() ? "(absent)" : it->second;
    return make_error(
        errc::bad_config,
        "topic " + topic + " has " + name + "=" + have +
            (spec.keys ? ", the data keys' topic needs " + want +
                             " (a shredded key would stay, or a key be lost)"
                       : ", the case log needs " + want + " (acknowledged events would be lost)"));
  };
  auto is = [&](const std::string& name, const std::string& value) {
    auto it = configs.find(name);
    return it != configs.end() && it->second == value;
  };
  if (spec.keys) {
    if (!is("cleanup.policy", "compact")) return refuse("cleanup.policy", "compact");
    if (!is("unclean.leader.election.enable", "false")) {
      return refuse("unclean.leader.election.enable", "false");
    }
    return success();
  }
  if (!is("retention.ms", "-1")) return refuse("retention.ms", "-1");
  if (!is("retention.bytes", "-1")) return refuse("retention.bytes", "-1");
  if (!is("cleanup.policy", "delete")) return refuse("cleanup.policy", "delete");
  if (!is("unclean.leader.election.enable", "false")) {
    return refuse("unclean.leader.election.enable", "false");
  }
  return success();
}

}  // namespace

result<void> ensure_topic(rd_kafka_t* admin, const topic_spec& spec,
                          std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  topic_ptr rkt{rd_kafka_topic_new(admin, spec.name.c_str(), nullptr)};
  if (!rkt) return translate(rd_kafka_last_error(), "topic handle " + spec.name);

  auto state = describe(admin, rkt.get(), left(deadline));
  if (!state) return std::move(state).error();
  if (state.value().brokers == 0) return make_error(errc::unavailable, "no broker in metadata");
  if (!state.value().exists) {
    const int rf = std::min(3, state.value().brokers);
    if (auto r = create(admin, spec, rf, left(deadline)); !r) return r;
  }
  // A new topic's partitions get leaders shortly after creation; wait for them with a deadline
  // (there is no notification for it in the protocol).
  for (;;) {
    state = describe(admin, rkt.get(), left(deadline));
    if (state && state.value().exists && state.value().all_led) break;
    if (clock::now() >= deadline) {
      if (!state) return std::move(state).error();
      return make_error(errc::unavailable, "topic " + spec.name + " has no leader for every partition");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  if (state.value().partitions != spec.partitions) {
    return make_error(errc::bad_config,
                      "topic " + spec.name + " has " + std::to_string(state.value().partitions) +
                          " partitions, configured partitions=" +
                          std::to_string(spec.partitions) +
                          " (keys would map to other partitions)");
  }
  // Several servers starting at once create the topic once; the others may ask a broker that
  // has not heard of it yet (unavailable): asked again, until the deadline.
  for (;;) {
    auto configs = topic_configs(admin, spec.name, left(deadline));
    if (configs) return check_configs(spec, configs.value());
    if (configs.error().code != errc::unavailable || clock::now() >= deadline)
      return std::move(configs).error();
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

result<topic_description> describe_topic(rd_kafka_t* admin, const std::string& topic,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  topic_ptr rkt{rd_kafka_topic_new(admin, topic.c_str(), nullptr)};
  if (!rkt) return translate(rd_kafka_last_error(), "topic handle " + topic);
  auto d = read_metadata(admin, rkt.get(), left(deadline));
  if (!d || !d.value().exists) return d;
  auto configs = topic_configs(admin, topic, left(deadline));
  if (!configs) return std::move(configs).error();
  d.value().configs = std::move(configs).value();
  return d;
}

}  // namespace caseline::events::detail
