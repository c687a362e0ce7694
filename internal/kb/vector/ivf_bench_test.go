package vector

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unitVectors returns n unit vectors of dim dimensions: around topics
// centres (n/100 of them; cosine to the centre about 0.7) or, with topics
// 0, iid Gaussian directions, the worst case for any ANN index.
func unitVectors(rng *rand.Rand, n, dim, topics int) [][]float32 {
	centres := make([][]float32, topics)
	for t := range centres {
		c := make([]float32, dim)
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		Normalize(c)
		centres[t] = c
	}
	out := make([][]float32, n)
	scale := 1 / math.Sqrt(float64(dim))
	for j := range out {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		if topics > 0 {
			c := centres[rng.IntN(topics)]
			for i := range v {
				v[i] += c[i]
			}
		}
		Normalize(v)
		out[j] = v
	}
	return out
}

// BenchmarkIVFSweep measures, for knowledge bases of several sizes, the
// exact scan against the IVF index at several probe fractions: per-query
// latency (p50, search only) and recall@10 against the exact scan, on
// clustered and on iid vectors. It is the measurement behind
// DefaultANNMinChunks and the probe fraction in internal/kb. Sizes come
// from $OUTCROP_IVF_SIZES (default 5000,10000,20000,50000,100000).
// Run it with -benchtime 1x.
func BenchmarkIVFSweep(b *testing.B) {
	sizes := []int{5000, 10000, 20000, 50000, 100000}
	if s := os.Getenv("OUTCROP_IVF_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, _ := strconv.Atoi(f)
			sizes = append(sizes, n)
		}
	}
	const dim, k, nq = 384, 10, 200
	for _, kind := range []string{"clustered", "iid"} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(uint64(n), 9))
				topics := n / 100
				if kind == "iid" {
					topics = 0
				}
				all := unitVectors(rng, n+nq, dim, topics)
				data, qs := all[:n], all[n:]
				get := func(r int32) []float32 { return data[r] }
				rows := make([]int32, n)
				for i := range rows {
					rows[i] = int32(i)
				}
				for b.Loop() {
					want := make([][]Hit, nq)
					lat := make([]float64, nq)
					for i, q := range qs {
						start := time.Now()
						top := NewTop(k)
						for r, v := range data {
							top.Push(int32(r), Dot(q, v))
						}
						want[i] = top.Sorted()
						lat[i] = time.Since(start).Seconds() * 1000
					}
					b.ReportMetric(median(lat), "exact_p50_ms")
					start := time.Now()
					x, _ := BuildIVF(context.Background(), dim, int(math.Round(math.Sqrt(float64(n)))), rows, get)
					b.ReportMetric(time.Since(start).Seconds(), "build_s")
					for _, frac := range []int{32, 16, 12, 8, 4} {
						probe := max(8, int(math.Ceil(float64(x.Lists())/float64(frac))))
						hit := 0
						for i, q := range qs {
							start := time.Now()
							got, _ := x.Search(q, k, probe, get, nil)
							lat[i] = time.Since(start).Seconds() * 1000
							in := map[int32]bool{}
							for _, h := range got {
								in[h.Row] = true
							}
							for _, h := range want[i] {
								if in[h.Row] {
									hit++
								}
							}
						}
						b.ReportMetric(median(lat), fmt.Sprintf("probe1/%d_p50_ms", frac))
						b.ReportMetric(float64(hit)/float64(nq*k), fmt.Sprintf("probe1/%d_recall", frac))
					}
				}
			})
		}
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
