-- +goose Up

-- Gateways and routes managed from the web UI and the API. The switch reads
-- the enabled ones within a second of a change (routing.Follow) and merges
-- them with the configuration file's routes: a route here replaces the
-- file's route of the same prefix.
CREATE TABLE gateways (
    id            bigserial PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    address       text        NOT NULL,
    transport     text        NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
    udp_only      boolean     NOT NULL DEFAULT false,
    auth_user     text        NOT NULL DEFAULT '',
    auth_password text        NOT NULL DEFAULT '',
    enabled       boolean     NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routes (
    id             bigserial PRIMARY KEY,
    name           text        NOT NULL UNIQUE,
    prefix         text        NOT NULL UNIQUE,
    hunt_stop      integer[]   NOT NULL DEFAULT '{486,600,603}',
    no_progress_ms bigint      NOT NULL DEFAULT 0, -- 0: timers.no_progress
    max_ring_ms    bigint      NOT NULL DEFAULT 0, -- 0: timers.max_ring
    enabled        boolean     NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A route's gateways, hunted in position order. A gateway a route uses
-- cannot be deleted (RESTRICT): the route would silently lose a hop.
CREATE TABLE route_gateways (
    route_id   bigint  NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    gateway_id bigint  NOT NULL REFERENCES gateways (id) ON DELETE RESTRICT,
    PRIMARY KEY (route_id, position)
);
CREATE INDEX route_gateways_gateway ON route_gateways (gateway_id);

-- +goose Down
DROP TABLE route_gateways;
DROP TABLE routes;
DROP TABLE gateways;
