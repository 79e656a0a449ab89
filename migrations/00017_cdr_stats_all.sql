-- +goose Up

-- The rollups of 00009 and 00013 gain the kind 'all' (name ''): every
-- call, whether or not it had a route or an account. A search's totals
-- (cdr.SearchTotals) with no filter but a time range read the whole hours
-- and days from here and only the partial hours at the range's ends from
-- cdrs: a month's totals at 100 million calls a year were an aggregate of
-- 8 million rows, seconds; they are now ~30 daily and ~48 hourly rows
-- (docs/benchmarks.md). Counted per call, as the route and account rows.
ALTER TABLE cdr_stats_hourly DROP CONSTRAINT cdr_stats_hourly_kind_check,
    ADD CONSTRAINT cdr_stats_hourly_kind_check CHECK (kind IN ('gateway', 'route', 'account', 'all'));
ALTER TABLE cdr_stats_daily DROP CONSTRAINT cdr_stats_daily_kind_check,
    ADD CONSTRAINT cdr_stats_daily_kind_check CHECK (kind IN ('gateway', 'route', 'account', 'all'));

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cdr_stats_rows(c cdrs)
RETURNS TABLE (kind text, hour timestamptz, name text, attempts int, answered int, ner_ok int,
               duration_ms bigint, pdd_ms bigint, pdd_calls int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT k.kind, date_trunc('hour', c.setup_time, 'UTC'), k.name, 1,
           (c.connect_time IS NOT NULL)::int,
           (c.connect_time IS NOT NULL OR c.sip_code IN (404, 480, 484, 486, 487, 600, 603)
            OR c.disconnect_reason IN ('busy', 'no answer'))::int,
           c.duration_ms, greatest(c.post_dial_delay_ms, 0), (c.post_dial_delay_ms > 0)::int
    FROM (VALUES ('route', c.route), ('account', c.account), ('all', '')) AS k (kind, name)
    WHERE k.name <> '' OR k.kind = 'all'
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

-- The CDRs already there: one plain aggregate over cdrs (no per-row
-- function), the same sums as the route and account rows.
INSERT INTO cdr_stats_hourly (kind, hour, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
SELECT 'all', date_trunc('hour', setup_time, 'UTC') AS h, '', count(*),
       count(*) FILTER (WHERE connect_time IS NOT NULL),
       count(*) FILTER (WHERE connect_time IS NOT NULL OR sip_code IN (404, 480, 484, 486, 487, 600, 603)
                        OR disconnect_reason IN ('busy', 'no answer')),
       coalesce(sum(duration_ms), 0), coalesce(sum(greatest(post_dial_delay_ms, 0)), 0),
       count(*) FILTER (WHERE post_dial_delay_ms > 0)
FROM cdrs GROUP BY h;

INSERT INTO cdr_stats_daily (kind, day, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
SELECT kind, date_trunc('day', hour, 'UTC') AS d, name, sum(attempts), sum(answered), sum(ner_ok),
       sum(duration_ms), sum(pdd_ms), sum(pdd_calls)
FROM cdr_stats_hourly WHERE kind = 'all' GROUP BY kind, d, name;

-- +goose Down
DELETE FROM cdr_stats_hourly WHERE kind = 'all';
DELETE FROM cdr_stats_daily WHERE kind = 'all';
ALTER TABLE cdr_stats_hourly DROP CONSTRAINT cdr_stats_hourly_kind_check,
    ADD CONSTRAINT cdr_stats_hourly_kind_check CHECK (kind IN ('gateway', 'route', 'account'));
ALTER TABLE cdr_stats_daily DROP CONSTRAINT cdr_stats_daily_kind_check,
    ADD CONSTRAINT cdr_stats_daily_kind_check CHECK (kind IN ('gateway', 'route', 'account'));
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cdr_stats_rows(c cdrs)
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
