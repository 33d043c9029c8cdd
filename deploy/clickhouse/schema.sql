-- flowtrail's ClickHouse schema: run it on EVERY shard (18.16 has no ZooKeeper-free
-- ON CLUSTER), e.g. clickhouse-client --multiquery < schema.sql per server.
-- Written in the subset that Debian 12's ClickHouse 18.16 and current servers both accept
-- (README.md, "Compatibility"): no DateTime64, IPv6 type, CODEC, TTL or LowCardinality.
-- The cluster name `flowtrail` is the remote_servers entry (cluster.xml.example).

CREATE DATABASE IF NOT EXISTS flowtrail;

-- One row per SessionRecord (proto/flowtrail/v1/session.proto, every field, same names),
-- plus where it came from: the stream's sensor_id and run_id and the record's frame
-- sequence number, which make a loaded batch identifiable (README.md, "Loading").
-- Addresses: 16 bytes, IPv4 as ::ffff:a.b.c.d (ip_version tells them apart).
-- Times: the record's exact microseconds, plus first_time (seconds) for the partition.
CREATE TABLE IF NOT EXISTS flowtrail.sessions_local
(
    sensor_id String,
    run_id String,
    sequence UInt64,
    first_time DateTime,
    session_id UInt64,
    server_confidence Enum8('low' = 0, 'medium' = 1, 'high' = 2),
    client_ip FixedString(16),
    client_port UInt16,
    server_ip FixedString(16),
    server_port UInt16,
    transient_server UInt8,
    inbound UInt8,
    full_analysis UInt8,
    client_first_flags UInt8,
    server_first_flags UInt8,
    client_flags UInt8,
    server_flags UInt8,
    client_payload_bytes UInt64,
    server_payload_bytes UInt64,
    client_packets UInt64,
    server_packets UInt64,
    client_first_seq UInt32,
    server_first_seq UInt32,
    client_last_seq UInt32,
    server_last_seq UInt32,
    first_time_us UInt64,
    last_time_us UInt64,
    client_fingerprint UInt32,
    server_fingerprint UInt32,
    client_bytes UInt64,
    server_bytes UInt64,
    first_data_sender Enum8('none' = 0, 'client' = 1, 'server' = 2),
    shutdown_initiator Enum8('none' = 0, 'client' = 1, 'server' = 2),
    shutdown_kind Enum8('none' = 0, 'fin' = 1, 'rst' = 2),
    end_reason Enum8('unspecified' = 0, 'closed' = 1, 'reset' = 2, 'idle_timeout' = 3,
                     'active_timeout' = 4, 'evicted' = 5, 'shutdown' = 6, 'end_of_input' = 7,
                     'replaced' = 8),
    conn_state Enum8('unspecified' = 0, 'S0' = 1, 'S1' = 2, 'SF' = 3, 'REJ' = 4, 'S2' = 5,
                     'S3' = 6, 'RSTO' = 7, 'RSTR' = 8, 'RSTOS0' = 9, 'RSTRH' = 10, 'SH' = 11,
                     'SHR' = 12, 'OTH' = 13),
    protocol UInt8,
    ip_version UInt8,
    vlan_outer UInt16,
    vlan_inner UInt16,
    vlan_count UInt8,
    input_port UInt16,
    record_sensor_id String,
    continuing UInt8,
    client_simhash UInt64,
    server_simhash UInt64,
    client_first_data_len UInt16,
    server_first_data_len UInt16,
    icmp_id UInt16,
    worker_id UInt16,
    fragments UInt32,
    server_isn_changed UInt8
)
ENGINE = MergeTree()
-- A day per partition: retention is ALTER TABLE ... DROP PARTITION 20261201 (README.md).
PARTITION BY toYYYYMMDD(first_time)
-- The scan table groups by (client, server port), the client-port method by (window,
-- server port, client port): server port first serves both, and a query for one port
-- (the --flows follow-up, "who scanned 445") reads one range.
ORDER BY (server_port, client_ip, first_time_us);

-- The whole cluster. Rows go to the shard of their client address, so every scan-table
-- row (client, server port) lives on one shard.
CREATE TABLE IF NOT EXISTS flowtrail.sessions AS flowtrail.sessions_local
ENGINE = Distributed(flowtrail, flowtrail, sessions_local, cityHash64(client_ip));

-- The loader's journal of batches (README.md, "Loading"): a batch's range is written as
-- 'started' before its rows and 'done' after them, so a retry or a restarted loader knows
-- whether to skip a range, insert it, or look up which of its sequence numbers are stored.
CREATE TABLE IF NOT EXISTS flowtrail.batches_local
(
    sensor_id String,
    run_id String,
    first_sequence UInt64,
    last_sequence UInt64,
    rows UInt64,
    state Enum8('started' = 0, 'done' = 1),
    loaded_at DateTime
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(loaded_at)
ORDER BY (sensor_id, run_id, first_sequence);

CREATE TABLE IF NOT EXISTS flowtrail.batches AS flowtrail.batches_local
ENGINE = Distributed(flowtrail, flowtrail, batches_local, cityHash64(sensor_id, run_id));
