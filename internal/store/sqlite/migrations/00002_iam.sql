-- +goose Up
-- IAM users and roles. ref is the key owner reference: the user name, or
-- "role/<name>" for a role.
CREATE TABLE principals (
    ref        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,          -- user | role
    name       TEXT NOT NULL,
    id         TEXT NOT NULL UNIQUE,   -- AIDA… / AROA…
    created_at TEXT NOT NULL
);
-- Policy documents as written (JSON text). owner is a principal ref for an
-- inline policy, '' for a customer managed policy.
CREATE TABLE policies (
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE TABLE policy_attachments (
    owner  TEXT NOT NULL,
    policy TEXT NOT NULL,
    PRIMARY KEY (owner, policy)
);
-- Tags by resource ARN: IAM users and roles, and Bedrock resources.
CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
-- Model access: explicit enablement (1) or disablement (0) by model ID;
-- models without a row follow the configured default.
CREATE TABLE model_access (
    model_id   TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE model_access;
DROP TABLE tags;
DROP TABLE policy_attachments;
DROP TABLE policies;
DROP TABLE principals;
