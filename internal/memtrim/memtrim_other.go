//go:build !linux

package memtrim

// Trim does nothing outside Linux.
func Trim() (Stats, error) { return Stats{}, nil }
