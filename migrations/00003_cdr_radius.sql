-- +goose Up

-- What the RADIUS billing back-end said about each call, for the CDR detail
-- page: the authorisation's result, method, answering server, h323-return-code
-- and latency (microseconds: a local server answers well under a
-- millisecond), and the accounting records the call produced. Columns rather
-- than a JSONB value, like the RTP counters: they are few, fixed, and an
-- operator filters on them in SQL ("calls rejected with return code 4").
-- radius_auth is '' for calls RADIUS did not authorise; the other auth
-- columns mean nothing then. Existing rows get the defaults: no RADIUS.
ALTER TABLE cdrs
    ADD COLUMN radius_auth          text    NOT NULL DEFAULT '',
    ADD COLUMN radius_auth_method   text    NOT NULL DEFAULT '',
    ADD COLUMN radius_server        text    NOT NULL DEFAULT '',
    ADD COLUMN radius_return_code   integer NOT NULL DEFAULT 0,
    ADD COLUMN radius_latency_us    bigint  NOT NULL DEFAULT 0,
    ADD COLUMN radius_acct_starts   integer NOT NULL DEFAULT 0,
    ADD COLUMN radius_acct_interims integer NOT NULL DEFAULT 0,
    ADD COLUMN radius_acct_stops    integer NOT NULL DEFAULT 0,
    ADD COLUMN radius_acct_queued   integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE cdrs
    DROP COLUMN radius_auth,
    DROP COLUMN radius_auth_method,
    DROP COLUMN radius_server,
    DROP COLUMN radius_return_code,
    DROP COLUMN radius_latency_us,
    DROP COLUMN radius_acct_starts,
    DROP COLUMN radius_acct_interims,
    DROP COLUMN radius_acct_stops,
    DROP COLUMN radius_acct_queued;
