// Package memtrim drops the executable's read-only pages from the process's
// resident set once start-up is over.
//
// Linux maps file pages around each fault (fault-around, 64 KiB or a whole
// large folio), so running the init functions of a few hundred packages
// leaves most of a large binary's text and read-only data resident although
// the server never executes that code again: 35 MB of the outcrop binary
// against 20 MB of real work when idle. Trim unmaps those pages; the ones
// the server still uses fault back in from the page cache on their next
// use, which costs a minor fault each and leaves the file's contents
// unchanged.
package memtrim

// Stats reports what Trim did.
type Stats struct {
	Mappings int   // read-only mappings of the executable that were trimmed
	Bytes    int64 // their total size (resident or not)
	Skipped  int   // mappings left alone because they hold private copies
}
