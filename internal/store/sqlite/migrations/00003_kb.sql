-- +goose Up
-- Knowledge bases, data sources and ingestion jobs: the domain record as
-- JSON (kb.KnowledgeBase, kb.DataSource, kb.IngestionJob) plus the columns
-- queries need.
CREATE TABLE knowledge_bases (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE TABLE kb_data_sources (
    kb_id      TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (kb_id, id)
);
CREATE TABLE kb_ingestion_jobs (
    id         TEXT PRIMARY KEY,
    kb_id      TEXT NOT NULL,
    ds_id      TEXT NOT NULL,
    status     TEXT NOT NULL,
    started_at TEXT NOT NULL,
    data       TEXT NOT NULL,
    FOREIGN KEY (kb_id, ds_id) REFERENCES kb_data_sources(kb_id, id) ON DELETE CASCADE
);
CREATE INDEX kb_ingestion_jobs_ds ON kb_ingestion_jobs (kb_id, ds_id, started_at);
-- One row per source document (S3 URI or custom identifier).
CREATE TABLE kb_documents (
    kb_id      TEXT NOT NULL,
    ds_id      TEXT NOT NULL,
    id         TEXT NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (kb_id, ds_id, id),
    FOREIGN KEY (kb_id, ds_id) REFERENCES kb_data_sources(kb_id, id) ON DELETE CASCADE
);
-- Chunks with their embeddings (little-endian float32) and metadata (JSON).
CREATE TABLE kb_chunks (
    id       INTEGER PRIMARY KEY,
    kb_id    TEXT NOT NULL,
    ds_id    TEXT NOT NULL,
    doc_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    text     TEXT NOT NULL,
    vector   BLOB NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (kb_id, ds_id, doc_id, seq),
    FOREIGN KEY (kb_id, ds_id) REFERENCES kb_data_sources(kb_id, id) ON DELETE CASCADE
);
-- BM25 over chunk text; rowid is kb_chunks.id. Kept in step by triggers so
-- that cascading deletes reach it too.
CREATE VIRTUAL TABLE kb_chunks_fts USING fts5(text, content='kb_chunks', content_rowid='id', tokenize='porter unicode61');
-- +goose StatementBegin
CREATE TRIGGER kb_chunks_ai AFTER INSERT ON kb_chunks BEGIN
    INSERT INTO kb_chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER kb_chunks_ad AFTER DELETE ON kb_chunks BEGIN
    INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER kb_chunks_ad;
DROP TRIGGER kb_chunks_ai;
DROP TABLE kb_chunks_fts;
DROP TABLE kb_chunks;
DROP TABLE kb_documents;
DROP TABLE kb_ingestion_jobs;
DROP TABLE kb_data_sources;
DROP TABLE knowledge_bases;
