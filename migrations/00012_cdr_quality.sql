-- +goose Up

-- Media quality per direction: the mean RTCP round trip between the relay
-- and the party that sent the direction (Tollgate's relay, when the
-- parties send RTCP), and an E-model estimate of the MOS (cdr/quality.go).
-- NULL when unknown: rtpproxy measures no round trip, and no MOS is
-- estimated without packets, loss and jitter. Rows written before have
-- none.
ALTER TABLE cdrs
    ADD COLUMN rtp_a_to_b_rtt_us bigint,
    ADD COLUMN rtp_a_to_b_mos    double precision,
    ADD COLUMN rtp_b_to_a_rtt_us bigint,
    ADD COLUMN rtp_b_to_a_mos    double precision;

-- +goose Down
ALTER TABLE cdrs
    DROP COLUMN rtp_a_to_b_rtt_us,
    DROP COLUMN rtp_a_to_b_mos,
    DROP COLUMN rtp_b_to_a_rtt_us,
    DROP COLUMN rtp_b_to_a_mos;
