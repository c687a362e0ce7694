package kb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pdfWords splits extracted text into lines of words.
func pdfWords(text string) [][]string {
	var out [][]string
	for _, line := range strings.Split(text, "\n") {
		out = append(out, strings.Fields(line))
	}
	return out
}

// TestPDFWords checks the words extracted from the test PDFs.
// cid.pdf, written by gen_cid.py, draws its text in a composite font
// (Type0, Identity-H, /DW 0 and a /W array) with a glyph step at every
// glyph, each line another way (see gen_cid.py); read with a glyph width
// of 0, every step was a word gap ("T i d a l P o o l s").
func TestPDFWords(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		{"sample.pdf", `Skerry Point Lighthouse
The lighthouse was lit in 1851 and its lamp burned whale oil.
In 1904 the keepers switched to paraffin (kerosene).
The tower is 38 metres tall and painted in red and white bands.
Left part of a line, right part of the same line.

Honey Bees
A colony keeps one queen; workers forage within three kilometres.
They tell each other where flowers are with a waggle dance.`},
		{"cid.pdf", `Tidal Pools of the Northern Coast
Anemones close when the tide goes out.
Limpets return to the same scar on the rock.
Periwinkles graze on thin layers of algae.
SURVEY 2024: 1,350 SPECIMENS
Barnacles filter plankton with their feet.
Figure 2: rock pool zones
Crabs shelter under loose stones at low tide.`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/pdf", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parsePDF(data)
			if err != nil {
				t.Fatalf("parsePDF(%s): %v", tc.file, err)
			}
			if diff := cmp.Diff(pdfWords(tc.want), pdfWords(got)); diff != "" {
				t.Errorf("parsePDF(%s) words (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

// TestPDFLayout checks where the layout puts word breaks between glyphs
// of known and unknown advance.
func TestPDFLayout(t *testing.T) {
	// run lays text out left to right from x on a baseline at y, size 10,
	// each glyph adv wide and gap after it; a space in text is a gap of
	// wordGap and no glyph.
	run := func(x, y float64, text string, adv, gap, wordGap float64, unknown, flow bool) []pdfGlyph {
		var out []pdfGlyph
		for _, r := range text {
			if r == ' ' {
				x += wordGap
				continue
			}
			out = append(out, pdfGlyph{s: string(r), x0: x, y0: y, x1: x + adv, y1: y, dx: 1, size: 10, unknown: unknown, flow: flow})
			x += adv + gap
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		glyphs []pdfGlyph
		want   string
	}{
		{"word gap of 0.2 em", run(0, 0, "tide pools", 5, 0, 2, false, false), "tide pools"},
		{"gap of 0.1 em is kerning", run(0, 0, "tide pools", 5, 0, 1, false, false), "tidepools"},
		{"spaced-out letters", run(0, 0, "SEA STARS NOW", 6, 3, 6, false, false), "SEA STARS NOW"},
		{"estimated advance, moved", run(0, 0, "tide pools", 5, 2, 4, true, false), "tide pools"},
		{"estimated advance, flowing", run(0, 0, "tide pools", 5, 0, 2, true, true), "tide pools"},
		{"new baseline", append(run(0, 0, "tide", 5, 0, 0, false, false), run(0, -12, "pools", 5, 0, 0, false, false)...), "tide\npools"},
		{"superscript", append(run(0, 0, "x", 5, 0, 0, false, false), run(5, 3, "2", 5, 0, 0, false, false)...), "x2"},
		{"jump back", append(run(100, 0, "right", 5, 0, 0, false, false), run(0, 0, "left", 5, 0, 0, false, false)...), "right left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l pdfLayout
			for _, g := range tc.glyphs {
				l.add(g)
			}
			l.endLine()
			if got := strings.TrimSpace(l.page.String()); got != tc.want {
				t.Errorf("layout = %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkParsePDF extracts the text of the test PDFs, and of the PDFs
// named in OUTCROP_PDF_BENCH (a list separated by the OS's path list
// separator, such as ':'), which need not be in the repository.
func BenchmarkParsePDF(b *testing.B) {
	files := []string{"testdata/pdf/sample.pdf", "testdata/pdf/cid.pdf"}
	if v := os.Getenv("OUTCROP_PDF_BENCH"); v != "" {
		files = append(files, filepath.SplitList(v)...)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(file), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := parsePDF(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
