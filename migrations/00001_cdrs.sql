-- +goose Up

-- One row per call, written by the CDR writer from the local spool. The id is
-- chosen by Tollgate at call setup, so a replayed batch is inserted with
-- ON CONFLICT (id) DO NOTHING and a CDR lands at most once.
--
-- Text columns are NOT NULL DEFAULT '' (empty means "none"), so a record
-- round-trips exactly; times a call may never reach (ringing, connect) are
-- NULL. Durations are integer milliseconds and RTP jitter microseconds:
-- exact, summable, and no interval arithmetic in billing queries.
--
-- Per-attempt detail (each gateway tried, its code and timings) is a JSONB
-- array in the CDR row rather than a child table: it is always read with its
-- CDR and never on its own, it is written once and never updated, and keeping
-- it in the row keeps the writer's batch one idempotent INSERT ... SELECT
-- (a child table would double the rows written per call and need its own
-- conflict handling on replay). The gateway of the final attempt has its own
-- indexed column; "which calls tried gateway X" is a rare investigation that
-- a time-bounded scan of attempts answers.
CREATE TABLE cdrs (
    id                  uuid PRIMARY KEY,
    conf_id             text        NOT NULL DEFAULT '',
    call_id_a           text        NOT NULL DEFAULT '',
    call_id_b           text        NOT NULL DEFAULT '',
    caller_number       text        NOT NULL DEFAULT '',
    caller_name         text        NOT NULL DEFAULT '',
    called_received     text        NOT NULL DEFAULT '',
    called_sent         text        NOT NULL DEFAULT '',
    source_ip           text        NOT NULL DEFAULT '',
    source_port         integer     NOT NULL DEFAULT 0,
    account             text        NOT NULL DEFAULT '',
    route               text        NOT NULL DEFAULT '',
    gateway             text        NOT NULL DEFAULT '',
    attempt_count       integer     NOT NULL DEFAULT 0,
    attempts            jsonb       NOT NULL DEFAULT '[]',
    setup_time          timestamptz(3) NOT NULL,
    ringing_time        timestamptz(3),
    connect_time        timestamptz(3),
    disconnect_time     timestamptz(3),
    duration_ms         bigint      NOT NULL DEFAULT 0,
    billed_seconds      integer     NOT NULL DEFAULT 0,
    post_dial_delay_ms  bigint      NOT NULL DEFAULT 0,
    sip_code            integer     NOT NULL DEFAULT 0,
    sip_reason          text        NOT NULL DEFAULT '',
    q850_cause          integer     NOT NULL DEFAULT 0,
    released_by         text        NOT NULL DEFAULT '',
    disconnect_reason   text        NOT NULL DEFAULT '',
    credit_granted_ms   bigint      NOT NULL DEFAULT 0,
    codec_a             text        NOT NULL DEFAULT '',
    codec_b             text        NOT NULL DEFAULT '',
    media_relay         text        NOT NULL DEFAULT '',
    rtp_a_to_b_packets  bigint      NOT NULL DEFAULT 0,
    rtp_a_to_b_bytes    bigint      NOT NULL DEFAULT 0,
    rtp_a_to_b_lost     bigint      NOT NULL DEFAULT 0,
    rtp_a_to_b_jitter_us bigint     NOT NULL DEFAULT 0,
    rtp_b_to_a_packets  bigint      NOT NULL DEFAULT 0,
    rtp_b_to_a_bytes    bigint      NOT NULL DEFAULT 0,
    rtp_b_to_a_lost     bigint      NOT NULL DEFAULT 0,
    rtp_b_to_a_jitter_us bigint     NOT NULL DEFAULT 0,
    user_agent_a        text        NOT NULL DEFAULT '',
    user_agent_b        text        NOT NULL DEFAULT '',
    inserted_at         timestamptz NOT NULL DEFAULT now()
);

-- Time range, and the keyset order of Search and Export: (setup_time, id).
CREATE INDEX cdrs_setup_time ON cdrs (setup_time, id);
-- Number prefixes: text_pattern_ops lets LIKE 'prefix%' use the index
-- whatever the database's collation.
CREATE INDEX cdrs_caller_number ON cdrs (caller_number text_pattern_ops);
CREATE INDEX cdrs_called_received ON cdrs (called_received text_pattern_ops);
CREATE INDEX cdrs_called_sent ON cdrs (called_sent text_pattern_ops);
-- Per-customer and per-carrier searches are nearly always time-bounded.
CREATE INDEX cdrs_account_time ON cdrs (account, setup_time);
CREATE INDEX cdrs_gateway_time ON cdrs (gateway, setup_time);
-- Exact lookups from a RADIUS record or a SIP trace; empty values are the
-- common case for call_id_b and conf_id and are never searched.
CREATE INDEX cdrs_conf_id ON cdrs (conf_id) WHERE conf_id <> '';
CREATE INDEX cdrs_call_id_a ON cdrs (call_id_a);
CREATE INDEX cdrs_call_id_b ON cdrs (call_id_b) WHERE call_id_b <> '';

-- +goose Down
DROP TABLE cdrs;
