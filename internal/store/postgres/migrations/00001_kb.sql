-- +goose Up
-- Knowledge bases, data sources and ingestion jobs: the domain record as
-- JSON text (kb.KnowledgeBase, kb.DataSource, kb.IngestionJob, kept as
-- sent, which jsonb would not) plus the columns queries need. Times are
-- text in the formats store/sqlite uses, so that both order alike.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE knowledge_bases (
    id         text PRIMARY KEY,
    created_at text NOT NULL,
    data       text NOT NULL
);
CREATE TABLE kb_data_sources (
    kb_id      text NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    id         text NOT NULL,
    created_at text NOT NULL,
    data       text NOT NULL,
    PRIMARY KEY (kb_id, id)
);
CREATE TABLE kb_ingestion_jobs (
    id         text PRIMARY KEY,
    kb_id      text NOT NULL,
    ds_id      text NOT NULL,
    status     text NOT NULL,
    started_at text NOT NULL,
    data       text NOT NULL,
    FOREIGN KEY (kb_id, ds_id) REFERENCES kb_data_sources(kb_id, id) ON DELETE CASCADE
);
CREATE INDEX kb_ingestion_jobs_ds ON kb_ingestion_jobs (kb_id, ds_id, started_at);
CREATE INDEX kb_ingestion_jobs_status ON kb_ingestion_jobs (status);
-- One row per source document (S3 URI or custom identifier).
CREATE TABLE kb_documents (
    kb_id      text NOT NULL,
    ds_id      text NOT NULL,
    id         text NOT NULL,
    data       text NOT NULL,
    PRIMARY KEY (kb_id, ds_id, id),
    FOREIGN KEY (kb_id, ds_id) REFERENCES kb_data_sources(kb_id, id) ON DELETE CASCADE
);
-- Chunks with their embeddings and metadata. The vector column has no
-- fixed dimensions, since knowledge bases differ; a knowledge base that
-- grows large gets its own partial HNSW index on
-- embedding::vector(<its dimensions>) (index.go). tsv is the chunk's text
-- for full-text search. toast_tuple_target keeps rows up to a page whole:
-- at the default (2 kB) a 384-dimension vector beside 300 words of text
-- goes out of line, and an exact scan then reads every vector from the
-- TOAST table, ten times slower.
CREATE TABLE kb_chunks (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kb_id     text NOT NULL,
    ds_id     text NOT NULL,
    doc_id    text NOT NULL,
    seq       integer NOT NULL,
    text      text NOT NULL,
    embedding vector NOT NULL,
    metadata  jsonb NOT NULL,
    tsv       tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (kb_id, ds_id, doc_id, seq),
    FOREIGN KEY (kb_id, ds_id) REFERENCES kb_data_sources(kb_id, id) ON DELETE CASCADE
) WITH (toast_tuple_target = 8160);
CREATE INDEX kb_chunks_tsv ON kb_chunks USING gin (tsv);
-- equals and in filters also test containment (metadata @> {"key": value}),
-- which this index answers, so selective ones do not read every chunk.
CREATE INDEX kb_chunks_metadata ON kb_chunks USING gin (metadata jsonb_path_ops);

-- +goose Down
DROP TABLE kb_chunks;
DROP TABLE kb_documents;
DROP TABLE kb_ingestion_jobs;
DROP TABLE kb_data_sources;
DROP TABLE knowledge_bases;
