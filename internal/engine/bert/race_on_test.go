//go:build race

package bert

// raceEnabled reports a -race build, under which the real-model test is
// too slow to run (the tiny-model tests exercise the same code paths).
const raceEnabled = true
