-- +goose Up

-- A route's match beyond its called prefix, as config.Route has it
-- (docs/gateways.md, "Which route a call takes"): the caller's number
-- prefix, the caller's real source addresses (IPs and CIDR blocks, kept
-- sorted and canonical by the store), the SIP interface the call came to
-- (empty: any), and a priority ranking the routes that match. The prefix
-- alone is no longer unique: two routes of one prefix may take different
-- callers. Two routes matching the same calls still may not exist, as one
-- of them would never be chosen.
ALTER TABLE routes
    ADD COLUMN caller_prefix text    NOT NULL DEFAULT '',
    ADD COLUMN source        text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN interface     text    NOT NULL DEFAULT '',
    ADD COLUMN priority      integer NOT NULL DEFAULT 0;
ALTER TABLE routes DROP CONSTRAINT routes_prefix_key;
CREATE UNIQUE INDEX routes_match ON routes (prefix, caller_prefix, interface, source);

-- +goose Down
-- Fails while two routes share a prefix: delete or merge them first.
DROP INDEX routes_match;
ALTER TABLE routes ADD CONSTRAINT routes_prefix_key UNIQUE (prefix);
ALTER TABLE routes DROP COLUMN caller_prefix, DROP COLUMN source, DROP COLUMN interface, DROP COLUMN priority;
