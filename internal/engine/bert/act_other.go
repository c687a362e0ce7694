//go:build !(goexperiment.simd && amd64)

package bert

// geluInPlace applies GELU (the exact erf form) to every element of x.
func geluInPlace(x []float32) { geluGo(x) }

// softmaxScaled replaces x by softmax(scale·x).
func softmaxScaled(x []float32, scale float32) { softmaxGo(x, scale) }
