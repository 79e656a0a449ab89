-- +goose Up

-- Whether the switch probes the gateway with OPTIONS (timers.probe_interval)
-- and skips it in the hunt while it does not answer.
ALTER TABLE gateways ADD COLUMN probe boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE gateways DROP COLUMN probe;
