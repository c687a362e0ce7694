// Package utcday names UTC days as "2006-01-02" without formatting a time
// for every call: a Namer remembers the day it named last.
package utcday

import "time"

// Namer names the UTC day of a time. The zero value is ready; it is not
// safe for concurrent use.
type Namer struct {
	start, end time.Time // the day named last, [start, end)
	name       string
}

// Of returns the UTC day of t, "2006-01-02".
func (d *Namer) Of(t time.Time) string {
	if d.name == "" || t.Before(d.start) || !t.Before(d.end) {
		u := t.UTC()
		d.start = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		d.end = d.start.AddDate(0, 0, 1)
		d.name = u.Format(time.DateOnly)
	}
	return d.name
}
