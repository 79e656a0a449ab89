-- +goose Up

-- A gateway's media mode (docs/gateways.md): none, rtpproxy or builtin for
-- the attempts sent to it, over the route's and the profile's; '' keeps
-- theirs.
ALTER TABLE gateways ADD COLUMN media text NOT NULL DEFAULT ''
    CHECK (media IN ('', 'none', 'rtpproxy', 'builtin'));

-- Gateway groups: named sets of gateways that a route hunts as one entry,
-- each call trying the members in an order drawn by weight, lower
-- priority tiers first (config.GatewayGroup).
CREATE TABLE gateway_groups (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A group's members. A gateway a group uses cannot be deleted (RESTRICT),
-- as for routes: the group would silently lose a member.
CREATE TABLE gateway_group_members (
    group_id   bigint  NOT NULL REFERENCES gateway_groups (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    gateway_id bigint  NOT NULL REFERENCES gateways (id) ON DELETE RESTRICT,
    weight     integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 1000),
    priority   integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000),
    PRIMARY KEY (group_id, position),
    UNIQUE (group_id, gateway_id)
);
CREATE INDEX gateway_group_members_gateway ON gateway_group_members (gateway_id);

-- A route's hunt entry is a gateway or a group, never both.
ALTER TABLE route_gateways ALTER COLUMN gateway_id DROP NOT NULL;
ALTER TABLE route_gateways
    ADD COLUMN group_id bigint REFERENCES gateway_groups (id) ON DELETE RESTRICT,
    ADD CONSTRAINT route_gateways_one_target CHECK ((gateway_id IS NULL) <> (group_id IS NULL));
CREATE INDEX route_gateways_group ON route_gateways (group_id);

-- +goose Down
DELETE FROM route_gateways WHERE group_id IS NOT NULL;
ALTER TABLE route_gateways DROP CONSTRAINT route_gateways_one_target, DROP COLUMN group_id;
ALTER TABLE route_gateways ALTER COLUMN gateway_id SET NOT NULL;
DROP TABLE gateway_group_members;
DROP TABLE gateway_groups;
ALTER TABLE gateways DROP COLUMN media;
