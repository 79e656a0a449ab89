-- +goose Up

-- The cluster.node that switched each call, so that the CDRs of several
-- Tollgates in one database tell where to look for a call's logs. Rows
-- written before name no node.
ALTER TABLE cdrs ADD COLUMN node text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE cdrs DROP COLUMN node;
