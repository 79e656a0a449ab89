-- +goose Up

-- cdrs becomes a table partitioned by month of setup_time (UTC), so that a
-- time-bounded search or statistic reads only the months it covers and
-- retention (cdr.retention) drops a whole month at once instead of
-- deleting rows one by one. Partitions are named cdrs_yYYYYmMM; the CDR
-- writer creates them ahead (cdr.Partitions) and, for a record whose month
-- has none yet, on demand before writing it.
--
-- Exactly once: a unique index of a partitioned table must contain the
-- partition key, so the primary key becomes (id, setup_time). A CDR's
-- setup_time is fixed when the call starts and travels with the record
-- through the spool, the journal and a survivor's takeover, so every copy
-- of a record carries the same pair and ON CONFLICT (id, setup_time) keeps
-- landing each CDR once (cdr.TestPartitionedWriterExactlyOnce).
--
-- The existing rows are copied into their months. Indexes are carried over
-- from the old table as they stand (whatever later migrations added to
-- it), now defined on the partitioned parent, which gives every partition,
-- present and future, the same ones. On a large table this migration
-- rewrites it: run it in a maintenance window (docs/benchmarks.md has what
-- it costs).
-- +goose StatementBegin
DO $$
DECLARE
    defs text[];
    def  text;
    m    timestamp;
BEGIN
    SELECT coalesce(array_agg(indexdef ORDER BY indexname), '{}') INTO defs
    FROM pg_indexes
    WHERE schemaname = current_schema() AND tablename = 'cdrs' AND indexname <> 'cdrs_pkey';

    ALTER TABLE cdrs RENAME TO cdrs_unpartitioned;
    ALTER INDEX cdrs_pkey RENAME TO cdrs_unpartitioned_pkey;
    CREATE TABLE cdrs (LIKE cdrs_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)
        PARTITION BY RANGE (setup_time);
    ALTER TABLE cdrs ADD PRIMARY KEY (id, setup_time);

    -- One partition per month that has rows, and the current and next
    -- months; the writer creates the rest.
    FOR m IN
        SELECT DISTINCT date_trunc('month', setup_time AT TIME ZONE 'UTC') FROM cdrs_unpartitioned
        UNION
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => g)
        FROM generate_series(0, 1) AS g
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF cdrs FOR VALUES FROM (%L) TO (%L)',
            'cdrs_' || to_char(m, '"y"YYYY"m"MM'),
            (m AT TIME ZONE 'UTC'), ((m + interval '1 month') AT TIME ZONE 'UTC'));
    END LOOP;

    INSERT INTO cdrs SELECT * FROM cdrs_unpartitioned;
    DROP TABLE cdrs_unpartitioned;

    FOREACH def IN ARRAY defs LOOP
        EXECUTE def;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down

-- Back to one table with the primary key on id alone, rows and indexes kept.
-- +goose StatementBegin
DO $$
DECLARE
    defs text[];
    def  text;
BEGIN
    SELECT coalesce(array_agg(indexdef ORDER BY indexname), '{}') INTO defs
    FROM pg_indexes
    WHERE schemaname = current_schema() AND tablename = 'cdrs' AND indexname <> 'cdrs_pkey';

    ALTER TABLE cdrs RENAME TO cdrs_partitioned;
    CREATE TABLE cdrs (LIKE cdrs_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS);
    INSERT INTO cdrs SELECT * FROM cdrs_partitioned;
    DROP TABLE cdrs_partitioned;
    ALTER TABLE cdrs ADD PRIMARY KEY (id);

    FOREACH def IN ARRAY defs LOOP
        EXECUTE def;
    END LOOP;
END
$$;
-- +goose StatementEnd
