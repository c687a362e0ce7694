// Package vector holds the search primitives of knowledge bases: float32
// vector encoding, exact cosine scoring and top-k selection, an IVF
// approximate index, reciprocal rank fusion of ranked lists, and
// evaluation of Bedrock's metadata filters. The store is the source of
// truth; the kb package owns the in-memory state (an IVF points into its
// vectors by row) and drives the search.
package vector

import (
	"encoding/binary"
	"math"
	"sort"
)

// Encode packs v as little-endian float32s, the blob stored per chunk.
func Encode(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// Decode unpacks a blob written by Encode.
func Decode(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Normalize scales v to unit length in place (zero vectors stay zero).
func Normalize(v []float32) {
	var s float64
	for _, f := range v {
		s += float64(f) * float64(f)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// Dot returns the dot product of a and b, which for unit vectors is their
// cosine similarity. The shorter length wins if they differ. Built with
// GOEXPERIMENT=simd on a CPU with AVX2 and FMA it runs eight lanes at a
// time (dot_simd.go); otherwise, and for short vectors, dotGo.
func Dot(a, b []float32) float32 {
	n := min(len(a), len(b))
	return dot(a[:n], b[:n])
}

// dotGo is the portable dot product of two slices of equal length.
func dotGo(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// Scored is one search hit.
type Scored struct {
	ID    int64
	Score float64
}

// TopK returns the k highest-scoring hits, best first; ties go to the
// lower ID so results are deterministic.
func TopK(hits []Scored, k int) []Scored {
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits
}

// RRFK is the rank constant of reciprocal rank fusion (Cormack et al. 2009).
const RRFK = 60

// Fuse merges ranked lists by weighted reciprocal rank fusion: each list
// contributes weight/(RRFK+rank) for every ID it ranks (rank from 1).
// Scores are rescaled so that an ID ranked first by every list scores 1.
func Fuse(lists [][]Scored, weights []float64, k int) []Scored {
	sum := map[int64]float64{}
	var maxScore float64
	for i, l := range lists {
		w := 1.0
		if i < len(weights) {
			w = weights[i]
		}
		maxScore += w / (RRFK + 1)
		for r, h := range l {
			sum[h.ID] += w / float64(RRFK+r+1)
		}
	}
	out := make([]Scored, 0, len(sum))
	for id, s := range sum {
		if maxScore > 0 {
			s /= maxScore
		}
		out = append(out, Scored{ID: id, Score: s})
	}
	return TopK(out, k)
}
