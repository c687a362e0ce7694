-- +goose Up
-- Per-knowledge-base text statistics for BM25 (text.go): how many chunks
-- hold each lexeme of tsv, and each knowledge base's chunk count and total
-- length in words (kb_chunk_words). Text search reads them to weight
-- a query's words by rarity and to look for candidates through its rarest
-- words first, so that a question's common words no longer make it rank
-- most of the knowledge base. Statement triggers keep them in step with
-- kb_chunks in the writing transaction, whatever deletes the chunks (a
-- document, or a data source or knowledge base by cascade), so every
-- replica reads the same figures. A writer takes a transaction advisory
-- lock per knowledge base before touching its rows: without it, two
-- transactions updating the same lexemes in different statements could
-- deadlock.
CREATE TABLE kb_terms (
    kb_id  text NOT NULL,
    lexeme text NOT NULL,
    chunks bigint NOT NULL,
    PRIMARY KEY (kb_id, lexeme)
);
CREATE TABLE kb_text_stats (
    kb_id   text PRIMARY KEY,
    chunks  bigint NOT NULL,
    words   bigint NOT NULL
);

-- kb_chunk_words is a chunk's length in words: the last position in its
-- tsv, since the parser numbers every word, stop words included (FTS5,
-- whose bm25() this follows, counts every token). text.go reads the same
-- from tsvectorsend.
CREATE FUNCTION kb_chunk_words(tsv tsvector) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT coalesce(max(p), 0) FROM unnest(tsv) u, unnest(u.positions) p);

-- +goose StatementBegin
CREATE FUNCTION kb_terms_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- PL/pgSQL plans a statement when it first runs it, so each branch
    -- names only the transition table its trigger has. An empty one (a
    -- new document deletes no chunks before writing its own) costs only
    -- the EXISTS.
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
      IF EXISTS (SELECT FROM old_chunks) THEN
        PERFORM pg_advisory_xact_lock(hashtext('outcrop-kb-terms:' || k.kb_id))
            FROM (SELECT DISTINCT kb_id FROM old_chunks ORDER BY 1) k;
        INSERT INTO kb_terms AS t (kb_id, lexeme, chunks)
            SELECT c.kb_id, u.lexeme, -count(*) FROM old_chunks c, unnest(c.tsv) u GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (kb_id, lexeme) DO UPDATE SET chunks = t.chunks + excluded.chunks;
        DELETE FROM kb_terms t USING (SELECT DISTINCT c.kb_id, u.lexeme FROM old_chunks c, unnest(c.tsv) u) g
            WHERE t.kb_id = g.kb_id AND t.lexeme = g.lexeme AND t.chunks <= 0;
        INSERT INTO kb_text_stats AS s (kb_id, chunks, words)
            SELECT kb_id, -count(*), -sum(kb_chunk_words(tsv)) FROM old_chunks GROUP BY 1 ORDER BY 1
            ON CONFLICT (kb_id) DO UPDATE SET chunks = s.chunks + excluded.chunks, words = s.words + excluded.words;
        DELETE FROM kb_text_stats s USING (SELECT DISTINCT kb_id FROM old_chunks) g WHERE s.kb_id = g.kb_id AND s.chunks <= 0;
      END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      IF EXISTS (SELECT FROM new_chunks) THEN
        PERFORM pg_advisory_xact_lock(hashtext('outcrop-kb-terms:' || k.kb_id))
            FROM (SELECT DISTINCT kb_id FROM new_chunks ORDER BY 1) k;
        INSERT INTO kb_terms AS t (kb_id, lexeme, chunks)
            SELECT c.kb_id, u.lexeme, count(*) FROM new_chunks c, unnest(c.tsv) u GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (kb_id, lexeme) DO UPDATE SET chunks = t.chunks + excluded.chunks;
        INSERT INTO kb_text_stats AS s (kb_id, chunks, words)
            SELECT kb_id, count(*), sum(kb_chunk_words(tsv)) FROM new_chunks GROUP BY 1 ORDER BY 1
            ON CONFLICT (kb_id) DO UPDATE SET chunks = s.chunks + excluded.chunks, words = s.words + excluded.words;
      END IF;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER kb_terms_insert AFTER INSERT ON kb_chunks
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION kb_terms_count();
CREATE TRIGGER kb_terms_delete AFTER DELETE ON kb_chunks
    REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION kb_terms_count();
CREATE TRIGGER kb_terms_update AFTER UPDATE ON kb_chunks
    REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION kb_terms_count();

-- Chunks written before this migration.
INSERT INTO kb_terms (kb_id, lexeme, chunks)
    SELECT kb_id, u.lexeme, count(*) FROM kb_chunks, unnest(tsv) u GROUP BY 1, 2;
INSERT INTO kb_text_stats (kb_id, chunks, words)
    SELECT kb_id, count(*), sum(kb_chunk_words(tsv)) FROM kb_chunks GROUP BY 1;

-- +goose Down
DROP TRIGGER kb_terms_update ON kb_chunks;
DROP TRIGGER kb_terms_delete ON kb_chunks;
DROP TRIGGER kb_terms_insert ON kb_chunks;
DROP FUNCTION kb_terms_count();
DROP FUNCTION kb_chunk_words(tsvector);
DROP TABLE kb_text_stats;
DROP TABLE kb_terms;
