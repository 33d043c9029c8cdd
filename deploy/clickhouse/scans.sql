-- `flowtrail report scans` (--by servers, the default) on the cluster: one row per
-- (client, server port), the paper's Table 5 columns. Run against any server; the
-- Distributed table reads every shard.
--
-- Which records count and how (src/analytics/scan_table.h, ClassifyRecord): TCP final
-- records (not `continuing`) whose client sent a SYN, announced FTP data connections
-- (transient_server) excluded. Outcome from the server's flags: SYN-ACK = success (and data
-- when client_bytes > 0), else RST from the server or REJ = reject, else silent.
--   rejects, silents, success, data: unique servers with that outcome (success counts data
--     servers too); scan_count = rejects + silents (the report's Count);
--   disjoint: unique servers that failed and never accepted this client;
--   *_sessions: the same counted in sessions (`--by sessions`).
-- Exact (uniqExact). The report is exact while a row has at most 16 servers and estimates
-- (HyperLogLog, est = true) beyond: on those rows the server counts differ by its error
-- (README.md). Not here: blind (needs the active-server windows) and the TRW verdict (a walk
-- over each client's first contacts in time order).
-- Output order: the report's (--by servers): scan_count, then the session count, highest
-- first, then IP version, client, port.
SELECT
    if(ip_version = 4, replaceOne(IPv6NumToString(client_ip), '::ffff:', ''),
       IPv6NumToString(client_ip)) AS client,
    server_port AS port,
    uniqExactIf(server_ip, outcome = 1) AS rejects,
    uniqExactIf(server_ip, outcome = 2) AS silents,
    uniqExactIf(server_ip, outcome >= 3) AS success,
    uniqExactIf(server_ip, outcome = 4) AS data,
    rejects + silents AS scan_count,
    uniqExact(server_ip) - success AS disjoint,
    countIf(outcome = 1) AS rejects_sessions,
    countIf(outcome = 2) AS silents_sessions,
    countIf(outcome >= 3) AS success_sessions,
    countIf(outcome = 4) AS data_sessions,
    rejects_sessions + silents_sessions AS scan_count_sessions
FROM
(
    SELECT
        client_ip,
        ip_version,
        server_port,
        server_ip,
        multiIf(bitAnd(server_flags, 2) != 0, if(client_bytes > 0, 4, 3),
                bitAnd(server_flags, 4) != 0 OR conn_state = 'REJ', 1,
                2) AS outcome
    FROM flowtrail.sessions
    WHERE protocol = 6 AND continuing = 0 AND bitAnd(client_flags, 2) != 0
      AND transient_server = 0
)
GROUP BY client_ip, ip_version, server_port
ORDER BY scan_count DESC, scan_count_sessions DESC, ip_version, client_ip, port
FORMAT TabSeparatedWithNames
