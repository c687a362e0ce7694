-- +goose Up
-- Model usage per UTC day, model, principal and access key (internal/usage).
-- cost_micros is in millionths of a US dollar.
CREATE TABLE usage_daily (
    day           TEXT NOT NULL,
    model         TEXT NOT NULL,
    principal     TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    requests      INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    images        INTEGER NOT NULL DEFAULT 0,
    cost_micros   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model, principal, key_id)
);
CREATE INDEX usage_daily_principal ON usage_daily (principal, day);
CREATE INDEX usage_daily_key ON usage_daily (key_id, day);

-- +goose Down
DROP TABLE usage_daily;
