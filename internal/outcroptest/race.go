package outcroptest

import "runtime/debug"

// RaceEnabled reports whether the running binary was built with -race
// (tests of the real engine skip or shrink under the race detector).
func RaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
