-- `flowtrail report ports`, the goldfarb method (Goldfarb, US-CERT 2005), on the cluster:
-- per window of record time (3600 s, aligned, by first_time_us), per server port (0-1023),
-- the flows per client port; a server port with more than C = 5 client ports flags the
-- client ports whose flows are > mean + S * stddev (S = 3, the sample standard deviation,
-- divisor n - 1), as src/analytics/port_distribution.h. A flow is a TCP or UDP final record
-- (not `continuing`). One row per flagged (window, server port, client port), the columns
-- of the report's CSV rows with method goldfarb.
-- Parameters are literals (18.16 has no {name:Type} query parameters): window 3600000000 us,
-- server_port < 1024, client_ports > 5, 3 * stddev. The counts are exact, like the
-- report's (its cells are exact until its --max-cells budget evicts); mean and stddev are
-- floating point and may differ from the report's in the last digits.
-- 18.16 has no window functions: per-port statistics in a subquery, then ARRAY JOIN back.
SELECT
    window_start_us,
    server_port,
    client_port,
    flows,
    client_ports,
    mean,
    stddev,
    threshold
FROM
(
    SELECT
        window_start_us,
        server_port,
        groupArray(port_of_client) AS ports,
        groupArray(flows_of_port) AS counts,
        count() AS client_ports,
        sum(flows_of_port) AS total_flows,
        avg(flows_of_port) AS mean,
        stddevSamp(flows_of_port) AS stddev,
        mean + 3 * stddev AS threshold
    FROM
    (
        SELECT
            intDiv(first_time_us, 3600000000) * 3600000000 AS window_start_us,
            server_port,
            client_port AS port_of_client,
            count() AS flows_of_port
        FROM flowtrail.sessions
        WHERE protocol IN (6, 17) AND continuing = 0 AND server_port < 1024
        GROUP BY window_start_us, server_port, port_of_client
    )
    GROUP BY window_start_us, server_port
    HAVING client_ports > 5
)
ARRAY JOIN ports AS client_port, counts AS flows
WHERE flows > threshold
ORDER BY window_start_us, server_port, client_port
FORMAT TabSeparatedWithNames
