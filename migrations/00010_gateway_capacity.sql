-- +goose Up

-- A gateway's capacity, as config.Gateway's max_calls and max_cps: the
-- attempts in progress plus calls connected through it, and new attempts
-- per second, that one Tollgate allows; the hunt skips it past either.
-- 0: no limit.
ALTER TABLE gateways
    ADD COLUMN max_calls integer          NOT NULL DEFAULT 0 CHECK (max_calls >= 0),
    ADD COLUMN max_cps   double precision NOT NULL DEFAULT 0 CHECK (max_cps >= 0);

-- +goose Down
ALTER TABLE gateways DROP COLUMN max_calls, DROP COLUMN max_cps;
