package vector

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
)

// Rows gives an index access to the vectors it indexes by row number.
// Rows are small dense integers chosen by the caller (a slab position);
// the index stores row numbers, never copies of the vectors.
type Rows func(row int32) []float32

// IVF is an inverted-file index over unit vectors: k-means centroids
// partition the rows into lists, and a query scans only the lists whose
// centroids are nearest to it. It stores the centroids and one int32 per
// row (plus its position, for O(1) removal), so its memory is about
// 4·dim·nlist + 12·rows bytes on top of the vectors it points into.
//
// An IVF is not safe for concurrent use: the caller serializes Add and
// Remove against Search (the kb package holds a read-write lock).
type IVF struct {
	dim       int
	centroids []float32 // nlist × dim, unit length
	lists     [][]int32 // rows per centroid
	where     []int32   // row → list, -1 when the row is not indexed
	pos       []int32   // row → position in its list
	size      int       // rows indexed
	built     int       // rows indexed when the centroids were trained
}

// BuildIVF trains nlist centroids by spherical k-means on a sample of the
// rows and assigns every row to its nearest centroid. rows lists the row
// numbers to index; vec reads them. The work is spread over GOMAXPROCS.
// Training is seeded, so the same rows give the same index. It stops
// early with ctx's error when ctx is done.
func BuildIVF(ctx context.Context, dim, nlist int, rows []int32, vec Rows) (*IVF, error) {
	nlist = max(1, min(nlist, len(rows)))
	x := &IVF{dim: dim, lists: make([][]int32, nlist), built: len(rows)}
	rng := rand.New(rand.NewPCG(uint64(len(rows)), 0x6976662d6b6d))
	// Sample about 40 rows per centroid for training.
	sample := append([]int32(nil), rows...)
	rng.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	sample = sample[:min(len(sample), 40*nlist)]
	x.centroids = make([]float32, nlist*dim)
	for c := range nlist {
		copy(x.centroids[c*dim:], vec(sample[c]))
	}
	assign := make([]int32, len(sample))
	sums := make([]float64, nlist*dim)
	counts := make([]int, nlist)
	for iter := 0; iter < 8; iter++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		x.nearestAll(sample, vec, assign)
		clear(sums)
		clear(counts)
		for i, r := range sample {
			c := int(assign[i])
			counts[c]++
			s := sums[c*dim : (c+1)*dim]
			for j, f := range vec(r) {
				s[j] += float64(f)
			}
		}
		for c := range nlist {
			cen := x.centroids[c*dim : (c+1)*dim]
			if counts[c] == 0 {
				// An empty cluster takes a random sample row.
				copy(cen, vec(sample[rng.IntN(len(sample))]))
				continue
			}
			var n float64
			for _, f := range sums[c*dim : (c+1)*dim] {
				n += f * f
			}
			if n == 0 {
				continue
			}
			inv := 1 / math.Sqrt(n)
			for j, f := range sums[c*dim : (c+1)*dim] {
				cen[j] = float32(f * inv)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := make([]int32, len(rows))
	x.nearestAll(rows, vec, all)
	for i, r := range rows {
		x.insert(r, int(all[i]))
	}
	return x, nil
}

// nearestAll writes the nearest centroid of each row into out, in parallel.
func (x *IVF) nearestAll(rows []int32, vec Rows, out []int32) {
	workers := max(1, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	per := (len(rows) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(rows))
		if lo >= hi {
			break
		}
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = int32(x.nearest(vec(rows[i])))
			}
		})
	}
	wg.Wait()
}

func (x *IVF) nearest(v []float32) int {
	best, bestScore := 0, float32(math.Inf(-1))
	for c := range len(x.lists) {
		if s := Dot(v, x.centroids[c*x.dim:(c+1)*x.dim]); s > bestScore {
			best, bestScore = c, s
		}
	}
	return best
}

func (x *IVF) insert(row int32, c int) {
	for int(row) >= len(x.where) {
		x.where = append(x.where, -1)
		x.pos = append(x.pos, 0)
	}
	x.where[row] = int32(c)
	x.pos[row] = int32(len(x.lists[c]))
	x.lists[c] = append(x.lists[c], row)
	x.size++
}

// Add indexes row under its nearest centroid. The centroids do not move,
// so after many additions the caller should rebuild (see Stale).
func (x *IVF) Add(row int32, v []float32) {
	x.Remove(row)
	x.insert(row, x.nearest(v))
}

// Remove drops row from the index; unknown rows are ignored.
func (x *IVF) Remove(row int32) {
	if int(row) >= len(x.where) || x.where[row] < 0 {
		return
	}
	c, p := x.where[row], x.pos[row]
	l := x.lists[c]
	last := l[len(l)-1]
	l[p] = last
	x.pos[last] = p
	x.lists[c] = l[:len(l)-1]
	x.where[row] = -1
	x.size--
}

// Len returns how many rows are indexed.
func (x *IVF) Len() int { return x.size }

// Lists returns the number of lists (centroids).
func (x *IVF) Lists() int { return len(x.lists) }

// Stale reports whether the index has grown to twice, or shrunk to half,
// the size it was trained on, after which its centroids no longer fit the
// data well and it should be rebuilt.
func (x *IVF) Stale() bool { return x.size > 2*x.built || 2*x.size < x.built }

// Bytes returns the memory the index holds (centroids, lists and the row
// maps, by capacity), not counting the vectors it points into.
func (x *IVF) Bytes() int {
	n := 4*cap(x.centroids) + 24*len(x.lists) + 4*cap(x.where) + 4*cap(x.pos)
	for _, l := range x.lists {
		n += 4 * cap(l)
	}
	return n
}

// Search returns the k best rows by dot product with q among the rows of
// the nprobe lists nearest to q for which accept (if not nil) is true,
// best first. It reports how many rows it scored.
func (x *IVF) Search(q []float32, k, nprobe int, vec Rows, accept func(row int32) bool) ([]Hit, int) {
	nprobe = max(1, min(nprobe, len(x.lists)))
	order := make([]Hit, len(x.lists))
	for c := range x.lists {
		order[c] = Hit{Row: int32(c), Score: Dot(q, x.centroids[c*x.dim:(c+1)*x.dim])}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Score > order[j].Score })
	top := NewTop(k)
	scanned := 0
	for _, o := range order[:nprobe] {
		for _, r := range x.lists[o.Row] {
			if accept != nil && !accept(r) {
				continue
			}
			top.Push(r, Dot(q, vec(r)))
			scanned++
		}
	}
	return top.Sorted(), scanned
}

// Hit is a row and its score.
type Hit struct {
	Row   int32
	Score float32
}

// Top keeps the k best hits seen, in a min-heap on score (ties: the higher
// row is worse), so a scan costs O(n log k) and no more than k hits.
type Top struct {
	k int
	h []Hit
}

// NewTop returns an empty Top for k hits.
func NewTop(k int) *Top { return &Top{k: k, h: make([]Hit, 0, k)} }

func worse(a, b Hit) bool { return a.Score < b.Score || (a.Score == b.Score && a.Row > b.Row) }

// Push offers a hit.
func (t *Top) Push(row int32, score float32) {
	h := Hit{Row: row, Score: score}
	if len(t.h) < t.k {
		t.h = append(t.h, h)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !worse(t.h[i], t.h[p]) {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	if t.k == 0 || !worse(t.h[0], h) {
		return
	}
	t.h[0] = h
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(t.h) && worse(t.h[l], t.h[m]) {
			m = l
		}
		if r < len(t.h) && worse(t.h[r], t.h[m]) {
			m = r
		}
		if m == i {
			break
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}

// Sorted returns the hits best first (higher score, then lower row).
func (t *Top) Sorted() []Hit {
	out := append([]Hit(nil), t.h...)
	sort.Slice(out, func(i, j int) bool { return worse(out[j], out[i]) })
	return out
}
