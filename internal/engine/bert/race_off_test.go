//go:build !race

package bert

// raceEnabled reports a -race build.
const raceEnabled = false
