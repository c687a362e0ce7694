-- +goose Up
-- RetrieveAndGenerate sessions (kb.SessionStore): the last turns of each
-- conversation, as JSON [{"q": question, "a": answer}, ...], and when it
-- was last used (RFC 3339 UTC; a session expires 24 hours after).
CREATE TABLE kb_sessions (
    id      TEXT PRIMARY KEY,
    used_at TEXT NOT NULL,
    turns   TEXT NOT NULL
);
CREATE INDEX kb_sessions_used ON kb_sessions (used_at);

-- +goose Down
DROP TABLE kb_sessions;
