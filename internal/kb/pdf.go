package kb

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/ledongthuc/pdf"
)

// PDF limits: a page tree is walked at most this deep and this wide, so
// that a cyclic or absurd tree ends.
const (
	maxPDFPages     = 5000
	maxPDFTreeNodes = 20000
	maxPDFTreeDepth = 32
)

// parsePDF extracts the text of a PDF's pages, in content-stream order:
// a line break wherever the baseline moves, a space wherever the text
// jumps right by more than a fifth of the font size (a gap drawn as a
// move rather than a space character), and a blank line between pages.
//
// The PDF reader panics on some malformed files; parsePDF turns that into
// an error, so one bad document fails alone.
func parsePDF(data []byte) (text string, err error) {
	defer func() {
		if x := recover(); x != nil {
			text, err = "", fmt.Errorf("malformed PDF: %v", x)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("read PDF: %w", err)
	}
	pages := pdfPages(r.Trailer().Key("Root").Key("Pages"))
	if len(pages) == 0 {
		return "", errors.New("the PDF has no pages")
	}
	var b strings.Builder
	for _, p := range pages {
		t := pageText(p)
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD"), nil
}

// pdfPages lists the pages of a page tree in order.
func pdfPages(root pdf.Value) []pdf.Page {
	var out []pdf.Page
	nodes := 0
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		nodes++
		if depth > maxPDFTreeDepth || nodes > maxPDFTreeNodes || len(out) >= maxPDFPages {
			return
		}
		switch v.Key("Type").Name() {
		case "Pages":
			kids := v.Key("Kids")
			for i := 0; i < kids.Len() && nodes <= maxPDFTreeNodes; i++ {
				walk(kids.Index(i), depth+1)
			}
		case "Page":
			out = append(out, pdf.Page{V: v})
		}
	}
	walk(root, 0)
	return out
}

// pageText lays out a page's glyphs as lines.
func pageText(p pdf.Page) string {
	var page, line strings.Builder
	endLine := func() {
		page.WriteString(strings.TrimRight(line.String(), " "))
		page.WriteByte('\n')
		line.Reset()
	}
	var prev pdf.Text
	first := true
	for _, t := range p.Content().Text {
		if strings.TrimSpace(t.S) == "" {
			// Spaces carry no position worth following (some writers
			// put them anywhere); keep one between words.
			if t.S != "" && line.Len() > 0 && !strings.HasSuffix(line.String(), " ") {
				line.WriteByte(' ')
			}
			continue
		}
		size := math.Max(t.FontSize, 1)
		switch {
		case first:
		case math.Abs(t.Y-prev.Y) > size/2:
			endLine()
		case t.X-(prev.X+prev.W) > size/5 || t.X < prev.X-size/5:
			if line.Len() > 0 && !strings.HasSuffix(line.String(), " ") {
				line.WriteByte(' ')
			}
		}
		first = false
		line.WriteString(t.S)
		prev = t
	}
	endLine()
	return collapseBlank(page.String())
}
