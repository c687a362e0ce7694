package kb

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// pdfWith writes a one-page PDF whose page draws content (Flate-compressed)
// with a Helvetica font F1 and, when form is not empty, a form XObject X1
// holding form (compressed too), which may draw itself.
func pdfWith(t *testing.T, content, form string) []byte {
	t.Helper()
	flate := func(s string) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	var objs []string
	xobj := ""
	if form != "" {
		xobj = " /XObject << /X1 6 0 R >>"
	}
	objs = append(objs,
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >>"+xobj+" >> >>",
	)
	c := flate(content)
	objs = append(objs, fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", len(c), c),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	if form != "" {
		f := flate(form)
		objs = append(objs, fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", len(f), f))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPDFBudget: content that decompresses to far more than its file
// (a stream of 5,000,000 saved graphics states, a form that draws itself)
// is bounded by the document's budget, so a 10 KB upload can no longer
// take gigabytes; a document that runs out keeps the text read before.
func TestPDFBudget(t *testing.T) {
	text := "BT /F1 12 Tf 72 720 Td (Skerry Point) Tj ET\n"
	t.Run("readable", func(t *testing.T) {
		got, err := Parse("a.pdf", "", pdfWith(t, text, ""))
		if err != nil || got != "Skerry Point" {
			t.Fatalf("Parse = %q, %v", got, err)
		}
	})
	t.Run("saved states", func(t *testing.T) {
		data := pdfWith(t, text+strings.Repeat("q\n", 1_900_000), "") // under the stream limit
		var got string
		var err error
		if n := allocated(func() { got, err = Parse("a.pdf", "", data) }); n > 256<<20 {
			t.Errorf("%d-byte PDF allocated %d MB", len(data), n>>20)
		}
		if err != nil || got != "Skerry Point" {
			t.Errorf("Parse = %q, %v", got, err)
		}
	})
	t.Run("stream too large is skipped", func(t *testing.T) {
		data := pdfWith(t, text+strings.Repeat("q\n", 5_000_000), "")
		if len(data) > 20_000 {
			t.Fatalf("test PDF is %d bytes, want a small one", len(data))
		}
		var got string
		if n := allocated(func() { got, _ = Parse("a.pdf", "", data) }); n > 256<<20 {
			t.Errorf("%d-byte PDF allocated %d MB", len(data), n>>20)
		}
		if got != "" {
			t.Errorf("Parse = %q, want nothing from the skipped stream", got)
		}
	})
	t.Run("self-drawing form", func(t *testing.T) {
		form := strings.Repeat("0 0 Td\n", 2000) + strings.Repeat("/X1 Do\n", 5)
		data := pdfWith(t, text+"/X1 Do\n", form)
		var got string
		var err error
		if n := allocated(func() { got, err = Parse("a.pdf", "", data) }); n > 512<<20 {
			t.Errorf("%d-byte PDF allocated %d MB", len(data), n>>20)
		}
		if err != nil || got != "Skerry Point" {
			t.Errorf("Parse = %q, %v", got, err)
		}
	})
	t.Run("operators run out", func(t *testing.T) {
		testPDFBudget = &pdfBudget{ops: 1000, decoded: maxPDFDecoded, forms: maxPDFForms}
		defer func() { testPDFBudget = nil }()
		got, err := Parse("a.pdf", "", pdfWith(t, strings.Repeat("0 0 Td\n", 2000)+text, ""))
		if !errors.Is(err, errPDFBudget) {
			t.Errorf("Parse = %q, %v; want errPDFBudget", got, err)
		}
	})
}
