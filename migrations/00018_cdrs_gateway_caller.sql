-- +goose Up

-- A gateway's calls from a caller prefix, newest first (an operator
-- chasing a customer's complaint on one carrier): the (gateway,
-- setup_time) index walked the gateway's calls newest first and read each
-- one from the table to test its caller, 130,000 table reads for a month
-- when the matching calls were the month's oldest (3.8 s at 100 million
-- calls a year, docs/benchmarks.md). With the caller number in the index
-- after setup_time the prefix is tested on the index entries and only the
-- matching calls are read; the order by setup_time within one gateway, and
-- every search by gateway and time, are served as before. text_pattern_ops
-- as for cdrs_caller_number: LIKE 'prefix%' under any collation.
DROP INDEX cdrs_gateway_time;
CREATE INDEX cdrs_gateway_time_caller ON cdrs (gateway, setup_time, caller_number text_pattern_ops);

-- +goose Down
DROP INDEX cdrs_gateway_time_caller;
CREATE INDEX cdrs_gateway_time ON cdrs (gateway, setup_time);
