-- +goose Up

-- A route's selected_profile, as config.Route has it (docs/gateways.md,
-- "Which route a call takes"): the call profile the profile selectors
-- (profile_select) must have chosen for the call; empty: any. Two routes
-- that differ in it alone match different calls, so it joins the unique
-- match: two routes matching exactly the same calls are still refused.
ALTER TABLE routes ADD COLUMN selected_profile text NOT NULL DEFAULT '';
DROP INDEX routes_match;
CREATE UNIQUE INDEX routes_match ON routes (prefix, caller_prefix, interface, selected_profile, source);

-- +goose Down
-- Fails while two routes differ in their selected_profile alone: delete or
-- merge them first.
DROP INDEX routes_match;
CREATE UNIQUE INDEX routes_match ON routes (prefix, caller_prefix, interface, source);
ALTER TABLE routes DROP COLUMN selected_profile;
