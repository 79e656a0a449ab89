-- +goose Up

-- The statistics of 00009 by the day (UTC) as well: a month of hourly rows
-- is still names x 720 rows (1.4 million for 2,000 accounts, 1.7 s to sum
-- on the test machine), where whole days need names x 30. A range reads
-- the days it covers whole from here and its partial days from
-- cdr_stats_hourly (cdr.StatsBy). The same trigger adds to both, in the
-- same statement.
CREATE TABLE cdr_stats_daily (
    kind        text        NOT NULL CHECK (kind IN ('gateway', 'route', 'account')),
    day         timestamptz NOT NULL,
    name        text        NOT NULL,
    attempts    bigint      NOT NULL DEFAULT 0,
    answered    bigint      NOT NULL DEFAULT 0,
    ner_ok      bigint      NOT NULL DEFAULT 0,
    duration_ms bigint      NOT NULL DEFAULT 0,
    pdd_ms      bigint      NOT NULL DEFAULT 0,
    pdd_calls   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, day, name)
);

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

INSERT INTO cdr_stats_daily (kind, day, name, attempts, answered, ner_ok, duration_ms, pdd_ms, pdd_calls)
SELECT kind, date_trunc('day', hour, 'UTC') AS d, name, sum(attempts), sum(answered), sum(ner_ok),
       sum(duration_ms), sum(pdd_ms), sum(pdd_calls)
FROM cdr_stats_hourly GROUP BY kind, d, name;

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION cdr_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP TABLE cdr_stats_daily;
