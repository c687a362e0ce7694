package kb

import (
	"archive/zip"
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func docx(t testing.TB, body string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, _ := z.Create("word/document.xml")
	w.Write([]byte(`<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body + `</w:body></w:document>`))
	z.Close()
	return b.Bytes()
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"a.txt", "hello\r\nworld", "hello\nworld"},
		{"a.md", "# Title\n\nSome **bold** and [a link](http://x).\n- item", "Title\n\nSome bold and a link.\nitem"},
		{"a.html", "<html><head><title>T</title><style>p{}</style></head><body><nav>menu</nav><p>One</p><p>Two <b>bold</b></p><script>x()</script></body></html>", "T\n\nOne\n\nTwo bold"},
		{"a.csv", "name,age\nAda,36\nAlan,41\n", "name: Ada; age: 36\nname: Alan; age: 41\n"},
		{"a.json", `{"b":{"c":[1,"x"]},"a":true}`, "a: true\nb.c[0]: 1\nb.c[1]: x\n"},
		{"a.docx", string(docx(t, `<w:p><w:r><w:t>First</w:t></w:r></w:p><w:p><w:r><w:t>Second</w:t></w:r></w:p>`)), "First\nSecond"},
	} {
		got, err := Parse(tc.name, "", []byte(tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := Parse("a.exe", "", []byte("x")); err == nil {
		t.Error("unsupported type parsed")
	}
}

func TestParseMetadata(t *testing.T) {
	got, err := ParseMetadata([]byte(`{"metadataAttributes":{"year":2020,"genre":"poetry","tags":["a","b"],"ok":true,
		"author":{"value":{"type":"STRING","stringValue":"Ada"},"includeForEmbedding":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"year": 2020.0, "genre": "poetry", "tags": []string{"a", "b"}, "ok": true, "author": "Ada"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestSplitText(t *testing.T) {
	text := "one two three four. five six seven eight nine ten"
	got := SplitText(text, Chunking{Strategy: "FIXED_SIZE", MaxTokens: 4, Overlap: 50})
	want := []string{"one two three four.", "three four. five six", "five six seven eight", "seven eight nine ten"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if got := SplitText(text, Chunking{Strategy: "NONE"}); len(got) != 1 || got[0] != text {
		t.Errorf("NONE = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"<p>x</p>", "a,b\n1,2", `{"a":[1]}`, "# t", string(docx(f, "<w:p><w:t>x</w:t></w:p>"))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, n := range []string{"a.txt", "a.md", "a.html", "a.csv", "a.json", "a.docx"} {
			out, err := Parse(n, "", []byte(data))
			if err == nil && !utf8.ValidString(out) {
				t.Errorf("%s: invalid UTF-8 output", n)
			}
		}
		_, _ = ParseMetadata([]byte(data))
		SplitText(data, Chunking{Strategy: "FIXED_SIZE", MaxTokens: 3, Overlap: 50})
	})
}

// TestParsePDF reads testdata/pdf/sample.pdf, written by gen.py: two
// pages in a nested page tree, a plain and a compressed content stream,
// Tj, TJ and ' operators, and a line drawn in two pieces.
func TestParsePDF(t *testing.T) {
	data, err := os.ReadFile("testdata/pdf/sample.pdf")
	if err != nil {
		t.Fatal(err)
	}
	want := `Skerry Point Lighthouse
The lighthouse was lit in 1851 and its lamp burned whale oil.
In 1904 the keepers switched to paraffin (kerosene).
The tower is 38 metres tall and painted in red and white bands.
Left part of a line, right part of the same line.

Honey Bees
A colony keeps one queen; workers forage within three kilometres.
They tell each other where flowers are with a waggle dance.`
	for _, tc := range []struct{ name, mime string }{{"sample.pdf", ""}, {"", "application/pdf"}} {
		got, err := Parse(tc.name, tc.mime, data)
		if err != nil {
			t.Fatalf("Parse(%q, %q): %v", tc.name, tc.mime, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Parse(%q, %q) (-want +got):\n%s", tc.name, tc.mime, diff)
		}
	}
	for _, tc := range []struct{ name, data string }{
		{"not a PDF", "hello"},
		{"truncated", string(data[:len(data)/2])},
		{"no pages", "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"},
	} {
		if got, err := Parse("x.pdf", "", []byte(tc.data)); err == nil {
			t.Errorf("%s: parsed as %q, want an error", tc.name, got)
		}
	}
}

// TestParsePDFHugeXref: a small file that declares object numbers in the
// hundreds of millions (in its xref table, an xref stream's /Size or
// /Index) is refused before the reader sizes a table for them, which took
// gigabytes; the real files' declarations pass.
func TestParsePDFHugeXref(t *testing.T) {
	cid, err := os.ReadFile("testdata/pdf/cid.pdf")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(cid, []byte("xref\n0 "))
	if i < 0 {
		t.Fatal("testdata/pdf/cid.pdf has no xref table starting at object 0")
	}
	huge := slices.Concat(cid[:i], []byte("xref\n99999999 "), cid[i+len("xref\n0 "):])
	stream := "%PDF-1.5\n1 0 obj\n<< /Type /XRef /Size 400000000 /W [1 2 1] /Length 0 >>\nstream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n"
	index := strings.Replace(stream, "/Size 400000000", "/Size 3 /Index [0 1 250000000 2]", 1)
	// Spellings the PDF reader accepts as well: escapes in names, any PDF
	// whitespace, the header on the keyword's line.
	cr := slices.Concat(cid[:i], []byte("xref\r99999999 "), cid[i+len("xref\n0 "):])
	oneLine := slices.Concat(cid[:i], []byte("xref 99999999 "), cid[i+len("xref\n0 "):])
	for _, tc := range []struct{ name, data string }{
		{"xref table", string(huge)},
		{"xref table, CR line ends", string(cr)},
		{"xref table, header on the keyword's line", string(oneLine)},
		{"xref stream /Size", stream},
		{"xref stream /Size spelled with an escape", strings.Replace(stream, "/Size", "/S#69ze", 1)},
		{"xref stream /Size after a form feed and a comment", strings.Replace(stream, "/Size ", "/Size\f% c\n", 1)},
		{"xref stream /Index", index},
		{"xref stream /Index spelled with an escape", strings.Replace(index, "/Index", "/Ind#65x", 1)},
	} {
		got, err := Parse("x.pdf", "", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), "declares object number") {
			t.Errorf("%s: Parse = %q, %v; want the declaration refused", tc.name, got, err)
		}
	}
	for _, name := range []string{"sample.pdf", "cid.pdf"} {
		data, err := os.ReadFile("testdata/pdf/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkXrefSizes(data); err != nil {
			t.Errorf("checkXrefSizes(%s) = %v", name, err)
		}
	}
}

// FuzzParsePDF feeds the PDF reader mutations of the test PDFs: it must
// return text or an error, never panic or hang.
func FuzzParsePDF(f *testing.F) {
	for _, name := range []string{"sample.pdf", "cid.pdf"} {
		data, err := os.ReadFile("testdata/pdf/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("%PDF-1.4\ntrailer\n<< /Root << /Pages << /Type /Pages /Kids [] /Count 99999999 >> >> >>\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Parse("a.pdf", "", data)
		if err == nil && !utf8.ValidString(out) {
			t.Errorf("invalid UTF-8 output %q", out)
		}
	})
}
