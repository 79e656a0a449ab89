-- +goose NO TRANSACTION
-- +goose Up

-- The dashboard's figures per hour from a rollup: its hourly calls, ASR,
-- ACD, PDD and billed minutes, and its failures by final SIP code, were
-- aggregates of the window's CDRs (1.3 s and 0.8 s for the last 24 hours
-- at 274,000 calls a day, growing with the traffic; docs/benchmarks.md).
-- cdr_stats_hourly's 'all' row lacks the billed seconds and the final
-- code, so the trigger of 00009/00013 keeps one more table: the calls of
-- each hour (UTC) by final SIP code. The dashboard reads at most 168
-- hours of it, a few rows an hour (one per code seen), and only the
-- partial hour at the start of its window from cdrs (cdr.Hourly,
-- cdr.Failures).
--
-- Everything the dashboard derives is kept as sums, so that the answers
-- are those of the aggregates over cdrs: answered_ms is the connected
-- time of the answered calls (ACD), pdd_ms/pdd_calls the post-dial delay
-- of the calls that had one, failed_reason the least reason phrase of
-- the unanswered calls with the code (NULL while there were none).
-- Keyed by hour then code and by nothing else (no gateway, route or
-- account): the trigger adds one row per hour and code seen in an insert
-- batch, a handful, next to the per-attempt rows it already upserts.
--
-- No transaction around the whole (NO TRANSACTION above): the backfill
-- commits one partition at a time, so an upgrade with a year of CDRs
-- locks one month at a time, and only against inserts (SHARE: searches
-- go on). Each statement can run again: a migration stopped half way is
-- finished by the next start.
CREATE TABLE IF NOT EXISTS cdr_codes_hourly (
    hour           timestamptz NOT NULL,
    sip_code       integer     NOT NULL,
    calls          bigint      NOT NULL DEFAULT 0,
    answered       bigint      NOT NULL DEFAULT 0,
    answered_ms    bigint      NOT NULL DEFAULT 0,
    pdd_ms         bigint      NOT NULL DEFAULT 0,
    pdd_calls      bigint      NOT NULL DEFAULT 0,
    billed_seconds bigint      NOT NULL DEFAULT 0,
    failed_reason  text,
    PRIMARY KEY (hour, sip_code)
);

-- The trigger of 00013 with the codes added, in the same statement. Rows
-- are merged in key order, as the other rollups', so that two writers
-- adding to the same hours cannot deadlock.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cdr_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH batch AS (
        SELECT r.kind, r.hour, r.name, sum(r.attempts) AS attempts, sum(r.answered) AS answered,
               sum(r.ner_ok) AS ner_ok, sum(r.duration_ms) AS duration_ms, sum(r.pdd_ms) AS pdd_ms,
               sum(r.pdd_calls) AS pdd_calls
        FROM new_cdrs c, cdr_stats_rows(c) r
        GROUP BY r.kind, r.hour, r.name
    ), hourly AS (
        INSERT INTO cdr_stats_hourly AS s (kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
        SELECT * FROM batch ORDER BY kind, hour, name
        ON CONFLICT (kind, hour, name) DO UPDATE SET
            attempts = s.attempts + excluded.attempts, answered = s.answered + excluded.answered,
            ner_ok = s.ner_ok + excluded.ner_ok, duration_ms = s.duration_ms + excluded.duration_ms,
            pdd_ms = s.pdd_ms + excluded.pdd_ms, pdd_calls = s.pdd_calls + excluded.pdd_calls
    ), codes AS (
        INSERT INTO cdr_codes_hourly AS s (hour, sip_code, calls, answered, answered_ms, pdd_ms, pdd_calls,
                                           billed_seconds, failed_reason)
        SELECT date_trunc('hour', setup_time, 'UTC') AS h, sip_code, count(*),
               count(*) FILTER (WHERE connect_time IS NOT NULL),
               coalesce(sum(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0),
               coalesce(sum(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0),
               count(*) FILTER (WHERE post_dial_delay_ms > 0), sum(billed_seconds),
               min(sip_reason) FILTER (WHERE connect_time IS NULL)
        FROM new_cdrs GROUP BY h, sip_code ORDER BY h, sip_code
        ON CONFLICT (hour, sip_code) DO UPDATE SET
            calls = s.calls + excluded.calls, answered = s.answered + excluded.answered,
            answered_ms = s.answered_ms + excluded.answered_ms, pdd_ms = s.pdd_ms + excluded.pdd_ms,
            pdd_calls = s.pdd_calls + excluded.pdd_calls, billed_seconds = s.billed_seconds + excluded.billed_seconds,
            failed_reason = least(s.failed_reason, excluded.failed_reason)
    )
    INSERT INTO cdr_stats_daily AS s (kind, day, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
    SELECT kind, date_trunc('day', hour, 'UTC') AS d, name, sum(attempts), sum(answered), sum(ner_ok),
           sum(duration_ms), sum(pdd_ms), sum(pdd_calls)
    FROM batch GROUP BY kind, d, name ORDER BY kind, d, name
    ON CONFLICT (kind, day, name) DO UPDATE SET
        attempts = s.attempts + excluded.attempts, answered = s.answered + excluded.answered,
        ner_ok = s.ner_ok + excluded.ner_ok, duration_ms = s.duration_ms + excluded.duration_ms,
        pdd_ms = s.pdd_ms + excluded.pdd_ms, pdd_calls = s.pdd_calls + excluded.pdd_calls;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The CDRs already there, one aggregate per partition (a month), newest
-- first so that the dashboard's hours are right soonest, each committed
-- on its own. The trigger above already counts the CDRs inserted since
-- it was replaced, so each partition's hours are set to its aggregate,
-- not added to; the partition is locked against inserts (SHARE) for its
-- aggregate, so that no CDR lands between the aggregate and the rows it
-- sets. Only the month being backfilled waits, and the CDR writer's
-- spool holds its records meanwhile: past months take no inserts but a
-- late record's. Hours are UTC and partitions UTC months (00008), so an
-- hour's calls are all in one partition. Hours of partitions already
-- dropped by retention have no CDRs left to count and no rows here.
-- +goose StatementBegin
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN
        SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'cdrs'::regclass ORDER BY c.relname DESC
    LOOP
        EXECUTE format('LOCK TABLE %s IN SHARE MODE', part);
        EXECUTE format($q$
            INSERT INTO cdr_codes_hourly AS s (hour, sip_code, calls, answered, answered_ms, pdd_ms, pdd_calls,
                                               billed_seconds, failed_reason)
            SELECT date_trunc('hour', setup_time, 'UTC') AS h, sip_code, count(*),
                   count(*) FILTER (WHERE connect_time IS NOT NULL),
                   coalesce(sum(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0),
                   coalesce(sum(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0),
                   count(*) FILTER (WHERE post_dial_delay_ms > 0), sum(billed_seconds),
                   min(sip_reason) FILTER (WHERE connect_time IS NULL)
            FROM %s GROUP BY h, sip_code
            ON CONFLICT (hour, sip_code) DO UPDATE SET
                calls = excluded.calls, answered = excluded.answered, answered_ms = excluded.answered_ms,
                pdd_ms = excluded.pdd_ms, pdd_calls = excluded.pdd_calls,
                billed_seconds = excluded.billed_seconds, failed_reason = excluded.failed_reason$q$, part);
        COMMIT;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cdr_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH batch AS (
        SELECT r.kind, r.hour, r.name, sum(r.attempts) AS attempts, sum(r.answered) AS answered,
               sum(r.ner_ok) AS ner_ok, sum(r.duration_ms) AS duration_ms, sum(r.pdd_ms) AS pdd_ms,
               sum(r.pdd_calls) AS pdd_calls
        FROM new_cdrs c, cdr_stats_rows(c) r
        GROUP BY r.kind, r.hour, r.name
    ), hourly AS (
        INSERT INTO cdr_stats_hourly AS s (kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
        SELECT * FROM batch ORDER BY kind, hour, name
        ON CONFLICT (kind, hour, name) DO UPDATE SET
            attempts = s.attempts + excluded.attempts, answered = s.answered + excluded.answered,
            ner_ok = s.ner_ok + excluded.ner_ok, duration_ms = s.duration_ms + excluded.duration_ms,
            pdd_ms = s.pdd_ms + excluded.pdd_ms, pdd_calls = s.pdd_calls + excluded.pdd_calls
    )
    INSERT INTO cdr_stats_daily AS s (kind, day, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
    SELECT kind, date_trunc('day', hour, 'UTC') AS d, name, sum(attempts), sum(answered), sum(ner_ok),
           sum(duration_ms), sum(pdd_ms), sum(pdd_calls)
    FROM batch GROUP BY kind, d, name ORDER BY kind, d, name
    ON CONFLICT (kind, day, name) DO UPDATE SET
        attempts = s.attempts + excluded.attempts, answered = s.answered + excluded.answered,
        ner_ok = s.ner_ok + excluded.ner_ok, duration_ms = s.duration_ms + excluded.duration_ms,
        pdd_ms = s.pdd_ms + excluded.pdd_ms, pdd_calls = s.pdd_calls + excluded.pdd_calls;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP TABLE cdr_codes_hourly;
