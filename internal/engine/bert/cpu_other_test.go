//go:build !unix

package bert

import "time"

var start = time.Now()

// cpuSeconds falls back to wall time where getrusage is unavailable.
func cpuSeconds() float64 { return time.Since(start).Seconds() }
