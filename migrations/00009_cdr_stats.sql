-- +goose Up

-- Per-gateway, per-route and per-account call statistics by the hour (UTC)
-- of setup, kept up to date by PostgreSQL itself as CDRs are inserted. The
-- statistics page reads a time range of this table: at most one row per
-- name and hour, where the same figures from cdrs would aggregate every
-- call of the range (docs/benchmarks.md has both on 10 million CDRs).
--
-- A statement trigger with a transition table rather than code in the CDR
-- writer: it sees exactly the rows a statement inserted, so the writer's
-- COPY and its ON CONFLICT (id) DO NOTHING replay count each CDR once, a
-- rolled-back batch counts nothing, and rows inserted by hand or by an
-- import are counted too. It is declared on the parent table cdrs, so it
-- keeps working when cdrs is partitioned.
--
-- Gateways are counted per attempt (each gateway a call tried, from the
-- CDR's attempts), routes and accounts per call. A call without a route or
-- an account is in neither table. "ner_ok" counts what the network
-- delivered: answered, or refused or left unanswered by the called user
-- (E.411's network effectiveness); pdd_ms/pdd_calls is the post-dial
-- delay of the calls that had one, counted for the gateway of their last
-- attempt.
CREATE TABLE cdr_stats_hourly (
    kind        text        NOT NULL CHECK (kind IN ('gateway', 'route', 'account')),
    hour        timestamptz NOT NULL,
    name        text        NOT NULL,
    attempts    bigint      NOT NULL DEFAULT 0,
    answered    bigint      NOT NULL DEFAULT 0,
    ner_ok      bigint      NOT NULL DEFAULT 0,
    duration_ms bigint      NOT NULL DEFAULT 0,
    pdd_ms      bigint      NOT NULL DEFAULT 0,
    pdd_calls   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, hour, name)
);

-- The statistics rows of one CDR: one for its route, one for its account,
-- one per attempt for the gateway tried. Plain SQL, so the planner inlines
-- it into the trigger's and the backfill's INSERT.
-- +goose StatementBegin
CREATE FUNCTION cdr_stats_rows(c cdrs)
RETURNS TABLE (kind text, hour timestamptz, name text, attempts int, answered int, ner_ok int,
               duration_ms bigint, pdd_ms bigint, pdd_calls int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT k.kind, date_trunc('hour', c.setup_time, 'UTC'), k.name, 1,
           (c.connect_time IS NOT NULL)::int,
           (c.connect_time IS NOT NULL OR c.sip_code IN (404, 480, 484, 486, 487, 600, 603)
            OR c.disconnect_reason IN ('busy', 'no answer'))::int,
           c.duration_ms, greatest(c.post_dial_delay_ms, 0), (c.post_dial_delay_ms > 0)::int
    FROM (VALUES ('route', c.route), ('account', c.account)) AS k (kind, name)
    WHERE k.name <> ''
    UNION ALL
    SELECT 'gateway', date_trunc('hour', c.setup_time, 'UTC'), t.gateway, 1,
           t.answered::int,
           (t.answered OR t.code IN (404, 480, 484, 486, 487, 600, 603) OR (t.code = 0 AND t.ringing))::int,
           CASE WHEN t.answered THEN c.duration_ms ELSE 0 END,
           CASE WHEN t.last AND c.post_dial_delay_ms > 0 THEN c.post_dial_delay_ms ELSE 0 END,
           (t.last AND c.post_dial_delay_ms > 0)::int
    FROM jsonb_array_elements(c.attempts) WITH ORDINALITY AS a (e, n),
         LATERAL (SELECT coalesce(a.e ->> 'gateway', '') AS gateway,
                         coalesce((a.e ->> 'answered')::boolean, false) AS answered,
                         coalesce((a.e ->> 'ringing')::boolean, false) AS ringing,
                         coalesce((a.e ->> 'sip_code')::int, 0) AS code,
                         a.n = jsonb_array_length(c.attempts) AS last) AS t
    WHERE t.gateway <> ''
$$;
-- +goose StatementEnd

-- Rows are merged in key order, so two writers adding to the same hours
-- lock them in the same order and cannot deadlock.
-- +goose StatementBegin
CREATE FUNCTION cdr_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cdr_stats_hourly AS s (kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
    SELECT r.kind, r.hour, r.name, sum(r.attempts), sum(r.answered), sum(r.ner_ok),
           sum(r.duration_ms), sum(r.pdd_ms), sum(r.pdd_calls)
    FROM new_cdrs c, cdr_stats_rows(c) r
    GROUP BY r.kind, r.hour, r.name
    ORDER BY r.kind, r.hour, r.name
    ON CONFLICT (kind, hour, name) DO UPDATE SET
        attempts = s.attempts + excluded.attempts, answered = s.answered + excluded.answered,
        ner_ok = s.ner_ok + excluded.ner_ok, duration_ms = s.duration_ms + excluded.duration_ms,
        pdd_ms = s.pdd_ms + excluded.pdd_ms, pdd_calls = s.pdd_calls + excluded.pdd_calls;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER cdrs_stats AFTER INSERT ON cdrs
    REFERENCING NEW TABLE AS new_cdrs FOR EACH STATEMENT EXECUTE FUNCTION cdr_stats_add();

-- The CDRs already there.
INSERT INTO cdr_stats_hourly (kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
SELECT r.kind, r.hour, r.name, sum(r.attempts), sum(r.answered), sum(r.ner_ok),
       sum(r.duration_ms), sum(r.pdd_ms), sum(r.pdd_calls)
FROM cdrs c, cdr_stats_rows(c) r
GROUP BY r.kind, r.hour, r.name;

-- +goose Down
DROP TRIGGER cdrs_stats ON cdrs;
DROP FUNCTION cdr_stats_add();
DROP FUNCTION cdr_stats_rows(cdrs);
DROP TABLE cdr_stats_hourly;
