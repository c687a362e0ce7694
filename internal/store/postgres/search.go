package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
)

// filterSQL translates a filter into a boolean SQL expression over the
// jsonb column metadata, appending its parameters to args. Every
// expression is TRUE or FALSE, never NULL, so NOT and the connectives
// behave as vector.Match's Go does. The translation follows Match case by
// case: attribute values are JSON strings, numbers, booleans or arrays of
// strings (a []string in Go only when every element is a string).
func filterSQL(f *vector.Filter, args *[]any) string {
	if f == nil {
		return "TRUE"
	}
	param := func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	switch f.Op {
	case "andAll", "orAll":
		parts := make([]string, len(f.All))
		for i, c := range f.All {
			parts[i] = filterSQL(c, args)
		}
		op := " AND "
		if f.Op == "orAll" {
			op = " OR "
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	// The attribute's parameter is added only where it is used: an
	// unused parameter has no type, which PostgreSQL refuses.
	attr := func() string { return "(metadata -> " + param(f.Key) + "::text)" }
	switch f.Op {
	case "equals", "notEquals":
		lit, ok := scalarJSON(f.Value)
		if !ok {
			return boolSQL(f.Op == "notEquals")
		}
		if f.Op == "equals" {
			// Containment is what the GIN index answers; for a scalar
			// value it holds exactly when the attribute equals it.
			return "(metadata @> " + param(containJSON(f.Key, lit)) + "::jsonb)"
		}
		return "(NOT COALESCE(" + attr() + " = " + param(lit) + "::jsonb, FALSE))"
	case "greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals":
		n, ok := f.Value.(float64)
		if !ok {
			return "FALSE"
		}
		a := attr()
		cmp := map[string]string{"greaterThan": ">", "greaterThanOrEquals": ">=", "lessThan": "<", "lessThanOrEquals": "<="}[f.Op]
		// Numbers are stored as Go writes float64s, the shortest decimal
		// that reads back as the same float64, so comparing them as numeric
		// orders them as the float64s.
		return "(CASE WHEN jsonb_typeof(" + a + ") = 'number' THEN (" + a + " #>> '{}')::numeric " + cmp + " " +
			param(strconv.FormatFloat(n, 'g', -1, 64)) + "::numeric ELSE FALSE END)"
	case "in", "notIn":
		list, _ := f.Value.([]any)
		var lits []string
		for _, x := range list {
			if lit, ok := scalarJSON(x); ok { // other values equal nothing
				lits = append(lits, lit)
			}
		}
		if len(lits) == 0 {
			return boolSQL(f.Op == "notIn")
		}
		if f.Op == "in" {
			items := make([]string, len(lits))
			for i, lit := range lits {
				items[i] = "metadata @> " + param(containJSON(f.Key, lit)) + "::jsonb"
			}
			return "(" + strings.Join(items, " OR ") + ")"
		}
		a := attr()
		items := make([]string, len(lits))
		for i, lit := range lits {
			items[i] = param(lit) + "::jsonb"
		}
		return "(NOT COALESCE(" + a + " IN (" + strings.Join(items, ", ") + "), FALSE))"
	case "startsWith":
		p, _ := f.Value.(string)
		a := attr()
		return "(CASE WHEN jsonb_typeof(" + a + ") = 'string' THEN starts_with(" + a + " #>> '{}', " + param(p) + "::text) ELSE FALSE END)"
	case "listContains":
		p, ok := f.Value.(string)
		if !ok {
			return "FALSE" // a list of strings holds no other value
		}
		a := attr()
		return "(CASE WHEN jsonb_typeof(" + a + ") = 'array' THEN " + a + " @> jsonb_build_array(" + param(p) + "::text) AND " +
			stringsOnly(a) + " ELSE FALSE END)"
	case "stringContains":
		p, _ := f.Value.(string)
		a := attr()
		ps := param(p)
		return "(CASE jsonb_typeof(" + a + ") WHEN 'string' THEN strpos(" + a + " #>> '{}', " + ps + "::text) > 0 " +
			"WHEN 'array' THEN " + stringsOnly(a) + " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(" + a + ") e WHERE strpos(e, " + ps + "::text) > 0) " +
			"ELSE FALSE END)"
	}
	return "FALSE"
}

// stringsOnly is true when the JSON array a holds only strings (then it
// is a []string in Go).
func stringsOnly(a string) string {
	return "NOT EXISTS (SELECT 1 FROM jsonb_array_elements(" + a + ") e WHERE jsonb_typeof(e) <> 'string')"
}

func boolSQL(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// containJSON returns {key: lit} as JSON, lit being JSON already.
func containJSON(key, lit string) string {
	k, _ := json.Marshal(key)
	return "{" + string(k) + ":" + lit + "}"
}

// scalarJSON returns a string, number or boolean as JSON; other values
// (which equal nothing in vector.Match) report false.
func scalarJSON(v any) (string, bool) {
	switch v.(type) {
	case string, float64, bool:
		b, err := json.Marshal(v)
		return string(b), err == nil
	}
	return "", false
}

// custom runs a search query as an unnamed statement, planned for its
// parameters each time (a cached statement gets a generic plan after five
// runs, which knows neither the knowledge base's size nor the filter's
// selectivity: it was measured ten times slower for an exact scan),
// described first so that results come in binary.
const custom = pgx.QueryExecModeDescribeExec

// rescoreMargin is how many chunks beyond k the vector search fetches:
// PostgreSQL's cosine distance may round differently from vector.Dot, so
// the candidates are rescored with vector.Dot, and the margin lets a
// chunk that only rounding put below the cut come back in.
const rescoreMargin = 16

// NearestChunks implements kb.Searcher. When fewer chunks of the
// knowledge base pass the filter than the ANN threshold, it scans them
// exactly (ordered by cosine distance, without the index), which gives the
// in-memory exact search's results. Otherwise it searches the knowledge
// base's HNSW index (unfiltered searches without counting), with
// hnsw.ef_search raised by the share of chunks the filter may reject
// (pgvector 0.6 filters the index's candidates, so a filter passing a
// fifth of the chunks needs five times as many), and falls back to the
// exact scan if the index still returns too few. Without a valid index it
// scans exactly and starts building one.
func (s *Store) NearestChunks(ctx context.Context, kbID string, q []float32, k int, f *vector.Filter) ([]kb.Result, error) {
	if k <= 0 || len(q) == 0 {
		return nil, nil
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	args := []any{kbID}
	where := "kb_id = $1 AND " + filterSQL(f, &args)
	fetch := k + rescoreMargin
	exact := s.ann < 0 || len(q) > maxHNSWDims || !hnswID.MatchString(kbID)
	ef := max(40, 2*fetch)
	if !exact {
		valid, size, err := s.index(ctx, tx, kbID)
		if err != nil {
			return nil, fmt.Errorf("vector search: %w", err)
		}
		// An unfiltered search goes to a valid index at once: it was
		// built when the knowledge base reached the threshold.
		if f != nil || !valid {
			// Count the passing chunks up to the threshold.
			var n int
			cargs := append(append([]any{custom}, args...), s.ann)
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM kb_chunks WHERE `+where+
				` LIMIT $`+strconv.Itoa(len(cargs)-1)+`) t`, cargs...).Scan(&n); err != nil {
				return nil, fmt.Errorf("vector search: %w", err)
			}
			switch {
			case n < s.ann:
				exact = true
			case !valid:
				s.startBuild(kbID, len(q))
				exact = true
			case f != nil:
				// At least s.ann chunks pass, so the filter rejects at
				// most 1 - s.ann/size of them.
				ef = int(math.Ceil(float64(ef) * max(size, float64(s.ann)) / float64(s.ann)))
			}
		}
	}
	var res []kb.Result
	if !exact {
		// enable_sort off keeps the planner from sorting the knowledge
		// base's chunks instead of walking the index.
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL hnsw.ef_search = %d; SET LOCAL enable_sort = off", min(ef, 1000))); err != nil {
			return nil, fmt.Errorf("vector search: %w", err)
		}
		// The planner uses the partial index only for a literal kb_id
		// (hnswID keeps it to letters and digits) and for the expression
		// the index was built on.
		hargs := append(append([]any{}, args...), vectorText(q), fetch)
		res, err = queryChunks(ctx, tx, fmt.Sprintf(`SELECT id, embedding::vector(%d) <=> $%d::text::vector(%d) AS d
			FROM kb_chunks WHERE kb_id = '%s' AND %s ORDER BY d LIMIT $%d`, len(q), len(args)+1, len(q), kbID, where, len(args)+2), hargs...)
		if err != nil {
			return nil, fmt.Errorf("vector search: %w", err)
		}
		exact = len(res) < k
	}
	if exact {
		qa := len(args) + 1
		args = append(args, vectorText(q), fetch)
		res, err = queryChunks(ctx, tx, `SELECT id, embedding <=> $`+strconv.Itoa(qa)+`::text::vector AS d
			FROM kb_chunks WHERE `+where+` ORDER BY d, id LIMIT $`+strconv.Itoa(qa+1), args...)
		if err != nil {
			return nil, fmt.Errorf("vector search: %w", err)
		}
	}
	for i := range res {
		res[i].Score = float64(vector.Dot(q, res[i].Vector))
		res[i].Vector = nil
	}
	sort.SliceStable(res, func(i, j int) bool {
		if res[i].Score != res[j].Score {
			return res[i].Score > res[j].Score
		}
		return res[i].ID < res[j].ID
	})
	return res[:min(k, len(res))], nil
}

// queryChunks runs ranked, a query of chunk IDs and distances, and
// returns those chunks with their vectors. The chunks are read after the
// ranking: in one query PostgreSQL would convert every candidate's vector
// and metadata before sorting them (25 ms against 2 ms over 3,000 chunks).
func queryChunks(ctx context.Context, tx pgx.Tx, ranked string, args ...any) ([]kb.Result, error) {
	rows, err := tx.Query(ctx, `SELECT c.id, c.kb_id, c.ds_id, c.doc_id, c.seq, c.text, vector_send(c.embedding), c.metadata::text
		FROM (`+ranked+`) r JOIN kb_chunks c ON c.id = r.id ORDER BY r.d, r.id`, append([]any{custom}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kb.Result
	for rows.Next() {
		var r kb.Result
		var vec []byte
		var meta string
		if err := rows.Scan(&r.ID, &r.KBID, &r.DSID, &r.DocID, &r.Seq, &r.Text, &vec, &meta); err != nil {
			return nil, err
		}
		if r.Vector, err = decodeVector(vec); err != nil {
			return nil, err
		}
		r.Meta = kb.UnmarshalMeta([]byte(meta))
		out = append(out, r)
	}
	return out, rows.Err()
}

// decodeVector reads pgvector's binary form (vector_send): the dimension
// count and a reserved word as big-endian uint16s, then the big-endian
// float32s. Converting to real[] instead costs several times more.
func decodeVector(b []byte) ([]float32, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("vector of %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) != 4+4*n {
		return nil, fmt.Errorf("vector of %d dimensions in %d bytes", n, len(b))
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.BigEndian.Uint32(b[4+4*i:]))
	}
	return v, nil
}

// SearchText ranks a knowledge base's chunks by full text (kb.Store; the
// in-memory search path uses it).
func (s *Store) SearchText(ctx context.Context, kbID, query string, limit int) ([]vector.Scored, error) {
	res, err := s.MatchingChunks(ctx, kbID, query, limit, nil)
	if err != nil {
		return nil, err
	}
	out := make([]vector.Scored, len(res))
	for i, r := range res {
		out[i] = vector.Scored{ID: r.ID, Score: r.Score}
	}
	return out, nil
}
