-- +goose Up

-- The local registrar's accounts (registration.mode: local), beside those
-- in the configuration file. A digest check needs the secret's HA1,
-- MD5(user:realm:password) (RFC 2617 3.2.2.2), so that is what is kept:
-- a bcrypt hash, as web users have, cannot answer a digest, and the
-- plain password is never stored. The realm is part of the HA1: a
-- subscriber added under another realm than registration.realm does not
-- authenticate until it is added again.
CREATE TABLE subscribers (
    id         bigserial   PRIMARY KEY,
    username   text        NOT NULL UNIQUE CHECK (username ~ '^[^@:;<> ]+$'),
    realm      text        NOT NULL,
    ha1        text        NOT NULL CHECK (ha1 ~ '^[0-9a-f]{32}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE subscribers;
