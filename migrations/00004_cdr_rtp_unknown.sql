-- +goose Up

-- RTP counters a relay does not keep are unknown, not zero: rtpproxy counts
-- no bytes, older rtpproxies no loss or jitter, and a call without a media
-- relay (or whose relay was lost before its counters could be read) has
-- none at all. NULL tells that apart from 0, which reads as "no media".
-- Rows written before keep their values; new rows leave the columns NULL
-- when the figure is unknown.
ALTER TABLE cdrs
    ALTER COLUMN rtp_a_to_b_packets   DROP NOT NULL, ALTER COLUMN rtp_a_to_b_packets   DROP DEFAULT,
    ALTER COLUMN rtp_a_to_b_bytes     DROP NOT NULL, ALTER COLUMN rtp_a_to_b_bytes     DROP DEFAULT,
    ALTER COLUMN rtp_a_to_b_lost      DROP NOT NULL, ALTER COLUMN rtp_a_to_b_lost      DROP DEFAULT,
    ALTER COLUMN rtp_a_to_b_jitter_us DROP NOT NULL, ALTER COLUMN rtp_a_to_b_jitter_us DROP DEFAULT,
    ALTER COLUMN rtp_b_to_a_packets   DROP NOT NULL, ALTER COLUMN rtp_b_to_a_packets   DROP DEFAULT,
    ALTER COLUMN rtp_b_to_a_bytes     DROP NOT NULL, ALTER COLUMN rtp_b_to_a_bytes     DROP DEFAULT,
    ALTER COLUMN rtp_b_to_a_lost      DROP NOT NULL, ALTER COLUMN rtp_b_to_a_lost      DROP DEFAULT,
    ALTER COLUMN rtp_b_to_a_jitter_us DROP NOT NULL, ALTER COLUMN rtp_b_to_a_jitter_us DROP DEFAULT;

-- +goose Down
UPDATE cdrs SET
    rtp_a_to_b_packets = coalesce(rtp_a_to_b_packets, 0), rtp_a_to_b_bytes = coalesce(rtp_a_to_b_bytes, 0),
    rtp_a_to_b_lost = coalesce(rtp_a_to_b_lost, 0), rtp_a_to_b_jitter_us = coalesce(rtp_a_to_b_jitter_us, 0),
    rtp_b_to_a_packets = coalesce(rtp_b_to_a_packets, 0), rtp_b_to_a_bytes = coalesce(rtp_b_to_a_bytes, 0),
    rtp_b_to_a_lost = coalesce(rtp_b_to_a_lost, 0), rtp_b_to_a_jitter_us = coalesce(rtp_b_to_a_jitter_us, 0);
ALTER TABLE cdrs
    ALTER COLUMN rtp_a_to_b_packets   SET DEFAULT 0, ALTER COLUMN rtp_a_to_b_packets   SET NOT NULL,
    ALTER COLUMN rtp_a_to_b_bytes     SET DEFAULT 0, ALTER COLUMN rtp_a_to_b_bytes     SET NOT NULL,
    ALTER COLUMN rtp_a_to_b_lost      SET DEFAULT 0, ALTER COLUMN rtp_a_to_b_lost      SET NOT NULL,
    ALTER COLUMN rtp_a_to_b_jitter_us SET DEFAULT 0, ALTER COLUMN rtp_a_to_b_jitter_us SET NOT NULL,
    ALTER COLUMN rtp_b_to_a_packets   SET DEFAULT 0, ALTER COLUMN rtp_b_to_a_packets   SET NOT NULL,
    ALTER COLUMN rtp_b_to_a_bytes     SET DEFAULT 0, ALTER COLUMN rtp_b_to_a_bytes     SET NOT NULL,
    ALTER COLUMN rtp_b_to_a_lost      SET DEFAULT 0, ALTER COLUMN rtp_b_to_a_lost      SET NOT NULL,
    ALTER COLUMN rtp_b_to_a_jitter_us SET DEFAULT 0, ALTER COLUMN rtp_b_to_a_jitter_us SET NOT NULL;
