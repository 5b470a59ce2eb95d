#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "core/time.h"
#include "events/event_log.h"

namespace caseline::events {

// Who did it: the token's user, role and center (and unit, for a handling unit's staff).
struct actor {
  std::string user;
  std::string role;
  std::string center;
  std::string unit;

  friend bool operator==(const actor&, const actor&) = default;
};

// One event as it travels in the log. The body is core's cereal encoding of the domain event;
// everything else is the envelope that every event type shares.
struct envelope {
  std::string event_id;        // "<case id>#<sequence>": unique and stable
  ::caseline::case_id case_id;
  sequence_number sequence;    // 1, 2, 3 ... within the case
  std::uint16_t type_id{0};
  std::uint16_t version{0};    // the body's schema version
  timestamp occurred_at;       // when it happened, as the client says (defaults to recorded_at)
  timestamp recorded_at;       // when the command was decided
  actor by;
  std::string correlation_id;  // ties the event to the request that caused it
  std::string prev_hash;       // SHA-256 of the stored bytes of the case's previous event ("" for the first)
  std::string body;

  friend bool operator==(const envelope&, const envelope&) = default;
};

// The Idempotency-Key a command was sent with, as the record that holds its events carries it:
// a retry after any outcome (a crash, a timeout, a 503) finds the first write in the log. No
// personal data and not the client's key itself: both are hashes.
struct idempotency_mark {
  std::string key_hash;      // idempotency_key_hash(token id, key): hex SHA-256
  std::string request_hash;  // hex SHA-256 of method, path and body: a retry must match it

  friend bool operator==(const idempotency_mark&, const idempotency_mark&) = default;
};

// The value of one log record: the events one command decided, all-or-nothing. Each event is
// kept as its own encoded bytes so that the hash chain covers exactly what is stored.
//
// Format versions (by magic): "CL1" holds the events only; "CL2" also the idempotency mark.
// A record without a mark is still written as CL1, so such records keep their bytes; both decode
// forever.
struct record {
  std::vector<std::string> events;  // each: encode_envelope()
  std::optional<idempotency_mark> idempotency;
};

// hex SHA-256 of (token id, Idempotency-Key): a key scoped by the token that used it.
std::string idempotency_key_hash(std::string_view token_id, std::string_view key);

// "<case id>#<sequence>": the id of a case's event.
std::string event_id_of(const case_id& id, sequence_number seq);

std::string encode_envelope(const envelope& e);
result<envelope> decode_envelope(std::string_view bytes);

std::string encode_record(const record& r);
// errc::corrupt_record when the bytes are not a record of a known format version (a checkpoint
// record included: it holds no events).
result<record> decode_record(std::string_view bytes);

// The second kind of record: a partition's tamper-evidence checkpoint (events/checkpoint.h). It
// has its own magic ("CLC1", where event records have "CL1" or "CL2"), so it is never decoded as events;
// consumers of events skip it (is_checkpoint). It holds no personal data.
struct checkpoint {
  partition_id partition;     // the partition it is written to and covers
  log_offset last_offset;     // the last offset it covers: every record at 0..last_offset
  std::string running_hash;   // h(last_offset), 32 bytes: see events/checkpoint.h
  timestamp written_at;

  friend bool operator==(const checkpoint&, const checkpoint&) = default;
};

std::string encode_checkpoint(const checkpoint& c);
// errc::corrupt_record when the bytes are not a checkpoint of a known format version.
result<checkpoint> decode_checkpoint(std::string_view bytes);
// Whether a record value is a checkpoint (by its magic alone; it may still not decode).
bool is_checkpoint(std::string_view value);

// The third kind: a partition claim. A member of a Kafka group (events/kafka_event_log.h) writes
// one into a partition as its first record once the group gave it the partition and its writer
// fenced the previous owner's: from that offset on, `member` decides the commands for the
// partition's cases. Every server learns each partition's owner by applying claims; the gateway
// forwards a command to it. Magic "CLP1"; no personal data. Consumers of events skip it.
struct partition_claim {
  partition_id partition;  // the partition it is written to
  std::string member;      // the owner's advertised base URL, "http://host:port"
  std::string group;       // the Kafka consumer group
  timestamp claimed_at;

  friend bool operator==(const partition_claim&, const partition_claim&) = default;
};

std::string encode_partition_claim(const partition_claim& c);
// errc::corrupt_record when the bytes are not a claim of a known format version.
result<partition_claim> decode_partition_claim(std::string_view bytes);
bool is_partition_claim(std::string_view value);

// A gap: an offset that holds no record a reader may see (on Kafka, a transaction's commit or
// abort marker, or a record of an aborted transaction). The Kafka log delivers each such offset as
// a record with an empty key and value, so that every reader sees offsets 0, 1, 2 ... with none
// missing, and every reader sees the same gaps. No append ever has an empty value.
inline bool is_gap(std::string_view value) { return value.empty(); }

// Whether a record's value holds case events: not a checkpoint, a claim or a gap. Consumers of
// events skip the others (each after handling the kinds it cares for).
bool holds_events(std::string_view value);

// SHA-256 of the bytes, as 32 raw bytes.
std::string sha256(std::string_view bytes);
std::string to_hex(std::string_view bytes);
// The bytes of lower-case hex text; none when it is not that (odd length, another character).
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace caseline::events
