-- +goose Up

-- Gateways reached over SIP over TLS (docs/tls.md), as a configuration
-- file's gateway with transport: tls.
ALTER TABLE gateways DROP CONSTRAINT gateways_transport_check;
ALTER TABLE gateways ADD CONSTRAINT gateways_transport_check CHECK (transport IN ('udp', 'tcp', 'tls'));

-- +goose Down
-- Fails while a gateway uses tls: change or delete it first.
ALTER TABLE gateways DROP CONSTRAINT gateways_transport_check;
ALTER TABLE gateways ADD CONSTRAINT gateways_transport_check CHECK (transport IN ('udp', 'tcp'));
