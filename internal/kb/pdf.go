package kb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ledongthuc/pdf"
)

// PDF limits: a page tree is walked at most this deep and this wide, so
// that a cyclic or absurd tree ends; form XObjects nest at most
// maxPDFFormDepth deep and a document draws at most maxPDFForms of them,
// so that forms drawing each other end too. A few kilobytes of PDF can
// decompress to gigabytes of content, so the work a document may cost is
// bounded too (pdfBudget): content streams decompressing to more than
// maxPDFStream bytes are skipped, and a document stops after
// maxPDFDecoded bytes of content or maxPDFOps operators, keeping the text
// read so far; saved graphics states nest at most maxPDFSaved deep.
const (
	maxPDFPages     = 5000
	maxPDFTreeNodes = 20000
	maxPDFTreeDepth = 32
	maxPDFFormDepth = 8
	maxPDFForms     = 1000
	maxPDFStream    = 4 << 20
	maxPDFDecoded   = 64 << 20
	maxPDFOps       = 4_000_000
	maxPDFSaved     = 256
)

// pdfBudget is the work a document has left; errPDFBudget stops the
// interpreter (as a panic through the PDF library, recovered by parsePDF)
// when it runs out.
type pdfBudget struct {
	ops, decoded, forms int
}

var errPDFBudget = errors.New("the PDF needs more work to read than a document may take")

var pdfDefaultBudget = pdfBudget{ops: maxPDFOps, decoded: maxPDFDecoded, forms: maxPDFForms}

// testPDFBudget, when set (by tests only), replaces pdfDefaultBudget.
var testPDFBudget *pdfBudget

// Word breaks, in ems of the font size. A gap between two glyphs is a
// word break when it exceeds pdfWordGap plus the line's letter spacing
// (the lower quartile of its gaps, once a line has pdfStatGaps of them,
// capped at pdfMaxTracking), and pdfLooseGap more when the previous
// glyph's width was estimated and the text was moved since.
const (
	pdfWordGap     = 0.15
	pdfLooseGap    = 0.15
	pdfMaxTracking = 0.5
	pdfStatGaps    = 6
)

// parsePDF extracts the text of a PDF's pages, in content-stream order:
// a line break wherever the baseline moves, a space wherever a space
// glyph is drawn or the gap between two glyphs is wider than a word
// break (see pdfWordGap), and a blank line between pages.
//
// The PDF library decodes objects, streams and text encodings; the
// content streams are interpreted here, because the library's own
// interpreter gives composite (Type0/CID) fonts, which most PDFs written
// today use, a glyph width of 0, so every glyph step looked like a gap
// between words. Glyph advances come from the fonts: /W and /DW of a
// CIDFont, /Widths, /FirstChar and /MissingWidth of a simple font, and
// /FontMatrix of a Type3 font.
//
// The PDF reader panics on some malformed files; parsePDF turns that into
// an error, so one bad document fails alone.
func parsePDF(data []byte) (text string, err error) {
	var b strings.Builder
	defer func() {
		if x := recover(); x != nil {
			if x == errPDFBudget && b.Len() > 0 {
				text, err = strings.ToValidUTF8(b.String(), "\uFFFD"), nil // the pages read so far
				return
			}
			if x == errPDFBudget {
				text, err = "", errPDFBudget
				return
			}
			text, err = "", fmt.Errorf("malformed PDF: %v", x)
		}
	}()
	if err := checkXrefSizes(data); err != nil {
		return "", err
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("read PDF: %w", err)
	}
	pages := pdfPages(r.Trailer().Key("Root").Key("Pages"))
	if len(pages) == 0 {
		return "", errors.New("the PDF has no pages")
	}
	fonts := make(map[string]*pdfFont)
	budget := pdfDefaultBudget
	if testPDFBudget != nil {
		budget = *testPDFBudget
	}
	for _, p := range pages {
		t := pageText(p, fonts, &budget)
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

// pageResources returns the page's resources, inherited from the page
// tree if need be. Unlike pdf.Page.Resources, it stops on a cyclic
// /Parent chain.
func pageResources(p pdf.Page) pdf.Value {
	v := p.V
	for i := 0; i <= maxPDFTreeDepth && !v.IsNull(); i++ {
		if r := v.Key("Resources"); !r.IsNull() {
			return r
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

// pageText lays out a page's glyphs as lines. fonts caches the fonts
// read so far in the document, keyed by their dictionary's text.
func pageText(p pdf.Page, fonts map[string]*pdfFont, budget *pdfBudget) string {
	var l pdfLayout
	in := &pdfInterp{fonts: fonts, out: &l, budget: budget}
	in.run(p.V.Key("Contents"), pageResources(p), pdfIdentity, 0)
	l.endLine()
	return collapseBlank(l.page.String())
}

// affine is a PDF transformation matrix [a b c d e f]; a point (x, y)
// maps to (a·x + c·y + e, b·x + d·y + f).
type affine [6]float64

var pdfIdentity = affine{1, 0, 0, 1, 0, 0}

// mul returns m followed by n (PDF's m × n).
func (m affine) mul(n affine) affine {
	return affine{
		m[0]*n[0] + m[1]*n[2],
		m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2],
		m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4],
		m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m affine) apply(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

func affineOf(args []pdf.Value) affine {
	var m affine
	for i := range m {
		m[i] = args[i].Float64()
	}
	return m
}

// pdfState is the part of the graphics state that places text.
type pdfState struct {
	ctm, tm, tlm               affine
	tc, tw, th, tl, tfs, trise float64
	font                       *pdfFont
}

// pdfInterp runs content streams, sending each glyph to out.
type pdfInterp struct {
	fonts  map[string]*pdfFont // the document's, by dictionary text
	out    *pdfLayout
	budget *pdfBudget // the document's
}

// affordable reports whether strm (a stream, or an array of them, as a
// page's /Contents may be) decompresses to at most maxPDFStream bytes and
// fits the document's budget, which it is charged to. It decompresses
// strm once to find out, before the PDF library interprets it, whose
// operand stack would otherwise grow with whatever a stream holds.
func (in *pdfInterp) affordable(strm pdf.Value) bool {
	parts := []pdf.Value{strm}
	if strm.Kind() == pdf.Array {
		parts = parts[:0]
		for i := 0; i < strm.Len(); i++ {
			parts = append(parts, strm.Index(i))
		}
	}
	var n int64
	for _, v := range parts {
		if v.Kind() != pdf.Stream {
			continue
		}
		rd := v.Reader()
		m, _ := io.Copy(io.Discard, io.LimitReader(rd, maxPDFStream+1-n))
		rd.Close()
		if n += m; n > maxPDFStream {
			return false
		}
	}
	if in.budget.decoded -= int(n); in.budget.decoded < 0 {
		panic(errPDFBudget)
	}
	return true
}

// run interprets one content stream (a page's or a form's) with its
// resources, starting from the transformation ctm.
func (in *pdfInterp) run(strm, res pdf.Value, ctm affine, depth int) {
	g := pdfState{ctm: ctm, tm: pdfIdentity, tlm: pdfIdentity, th: 1, font: pdfNoFont}
	var stack []pdfState
	fontDict := res.Key("Font")
	local := make(map[string]*pdfFont) // by resource name
	flow := false                      // no text positioning since the last glyph
	moveLine := func(tx, ty float64) {
		g.tlm = affine{1, 0, 0, 1, tx, ty}.mul(g.tlm)
		g.tm = g.tlm
		flow = false
	}
	if !in.affordable(strm) {
		return
	}
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		if in.budget.ops--; in.budget.ops < 0 {
			panic(errPDFBudget)
		}
		n := stk.Len()
		args := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "q":
			if len(stack) < maxPDFSaved {
				stack = append(stack, g)
			}
		case "Q":
			if len(stack) > 0 {
				g = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				flow = false
			}
		case "cm":
			if n == 6 {
				g.ctm = affineOf(args).mul(g.ctm)
				flow = false
			}
		case "BT":
			g.tm, g.tlm = pdfIdentity, pdfIdentity
			flow = false
		case "Tc":
			if n == 1 {
				g.tc = args[0].Float64()
			}
		case "Tw":
			if n == 1 {
				g.tw = args[0].Float64()
			}
		case "Tz":
			if n == 1 {
				g.th = args[0].Float64() / 100
			}
		case "TL":
			if n == 1 {
				g.tl = args[0].Float64()
			}
		case "Ts":
			if n == 1 {
				g.trise = args[0].Float64()
			}
		case "Tf":
			if n == 2 {
				name := args[0].Name()
				f, ok := local[name]
				if !ok {
					f = in.font(fontDict.Key(name))
					local[name] = f
				}
				g.font, g.tfs = f, args[1].Float64()
			}
		case "Td", "TD":
			if n == 2 {
				if op == "TD" {
					g.tl = -args[1].Float64()
				}
				moveLine(args[0].Float64(), args[1].Float64())
			}
		case "Tm":
			if n == 6 {
				g.tm = affineOf(args)
				g.tlm = g.tm
				flow = false
			}
		case "T*":
			moveLine(0, -g.tl)
		case "Tj":
			if n == 1 {
				in.show(&g, args[0].RawString(), flow)
				flow = true
			}
		case "'", "\"":
			if op == "\"" && n == 3 {
				g.tw, g.tc = args[0].Float64(), args[1].Float64()
				args = args[2:]
			}
			if len(args) == 1 {
				moveLine(0, -g.tl)
				in.show(&g, args[0].RawString(), false)
				flow = true
			}
		case "TJ":
			if n != 1 {
				break
			}
			a := args[0]
			for i := 0; i < a.Len(); i++ {
				x := a.Index(i)
				if x.Kind() == pdf.String {
					in.show(&g, x.RawString(), flow)
					flow = true
				} else {
					tx := -x.Float64() / 1000 * g.tfs * g.th
					g.tm = affine{1, 0, 0, 1, tx, 0}.mul(g.tm)
				}
			}
		case "Do":
			if n != 1 || depth >= maxPDFFormDepth || in.budget.forms <= 0 {
				break
			}
			x := res.Key("XObject").Key(args[0].Name())
			if x.Key("Subtype").Name() != "Form" {
				break
			}
			in.budget.forms--
			m := pdfIdentity
			if mv := x.Key("Matrix"); mv.Len() == 6 {
				for i := range m {
					m[i] = mv.Index(i).Float64()
				}
			}
			xres := x.Key("Resources")
			if xres.IsNull() {
				xres = res
			}
			in.run(x, xres, m.mul(g.ctm), depth+1)
			flow = false
		}
	})
}

// show draws a string of character codes at the text position, moving
// it by each glyph's advance. flow says whether the text position
// follows on from the last glyph drawn (no positioning operator since).
func (in *pdfInterp) show(g *pdfState, raw string, flow bool) {
	f := g.font
	step := 1
	if f.twoByte {
		step = 2
	}
	for i := 0; i+step <= len(raw); i += step {
		code := raw[i : i+step]
		gi := f.glyph(code)
		w := gi.w
		if !gi.known {
			w = f.avg
		}
		adv := w*g.tfs + g.tc
		if code == " " {
			adv += g.tw // word spacing applies to single-byte code 32 only
		}
		adv *= g.th
		m := g.tm.mul(g.ctm)
		x0, y0 := m.apply(0, g.trise)
		x1, y1 := m.apply(adv, g.trise)
		dx, dy := m[0], m[1]
		if l := math.Hypot(dx, dy); l > 0 {
			dx, dy = dx/l, dy/l
		} else {
			dx, dy = 1, 0
		}
		in.out.add(pdfGlyph{
			s: gi.s, x0: x0, y0: y0, x1: x1, y1: y1, dx: dx, dy: dy,
			size:    math.Abs(g.tfs) * math.Hypot(m[2], m[3]),
			unknown: !gi.known, flow: flow,
		})
		flow = true
		g.tm[4] += adv * g.tm[0]
		g.tm[5] += adv * g.tm[1]
	}
}

// font returns the font for a font dictionary, read once per document.
func (in *pdfInterp) font(v pdf.Value) *pdfFont {
	if v.Kind() != pdf.Dict {
		return pdfNoFont
	}
	key := v.String()
	f, ok := in.fonts[key]
	if !ok {
		f = newPDFFont(v)
		in.fonts[key] = f
	}
	return f
}

// pdfFont is what text extraction needs of a font: how to cut a string
// into character codes, and each code's text and advance.
type pdfFont struct {
	enc     pdf.TextEncoding
	twoByte bool    // a composite font (2-byte codes; CMaps of mixed code lengths are not read)
	scale   float64 // glyph space to text space: 1/1000, or a Type3 font's FontMatrix
	first   int     // simple fonts: the code of widths[0]
	widths  []float64
	missing float64    // simple fonts: the advance of codes outside widths
	cidW    []cidWidth // composite fonts: /W
	dw      float64    // composite fonts: /DW
	avg     float64    // the advance assumed when a glyph's is unknown, in text space
	glyphs  map[string]pdfGlyphInfo
}

// cidWidth is one /W entry: CIDs lo to hi have width w, or ws[cid-lo].
type cidWidth struct {
	lo, hi int
	w      float64
	ws     []float64
}

// pdfGlyphInfo is a character code's text and advance (text space, for
// a font size of 1); known is false when the font gives no advance.
type pdfGlyphInfo struct {
	s     string
	w     float64
	known bool
}

// pdfNoFont stands in before any Tf, and for a font that is missing.
var pdfNoFont = &pdfFont{enc: pdfRawEncoding{}, scale: 0.001, avg: 0.5, glyphs: map[string]pdfGlyphInfo{}}

type pdfRawEncoding struct{}

func (pdfRawEncoding) Decode(raw string) string { return raw }

func newPDFFont(v pdf.Value) *pdfFont {
	pf := pdf.Font{V: v}
	f := &pdfFont{enc: pf.Encoder(), scale: 0.001, glyphs: make(map[string]pdfGlyphInfo)}
	if f.enc == nil {
		f.enc = pdfRawEncoding{}
	}
	desc := v.Key("FontDescriptor")
	var sum float64
	var count int
	switch v.Key("Subtype").Name() {
	case "Type0":
		f.twoByte = true
		cid := v.Key("DescendantFonts").Index(0)
		desc = cid.Key("FontDescriptor")
		f.dw = 1000
		if dw := cid.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.dw = dw.Float64()
		}
		w := cid.Key("W")
		for i := 0; i+1 < w.Len(); {
			lo := w.Index(i)
			next := w.Index(i + 1)
			if next.Kind() == pdf.Array {
				e := cidWidth{lo: int(lo.Int64())}
				for j := 0; j < next.Len(); j++ {
					e.ws = append(e.ws, next.Index(j).Float64())
					sum += e.ws[j]
					count++
				}
				e.hi = e.lo + len(e.ws) - 1
				f.cidW = append(f.cidW, e)
				i += 2
				continue
			}
			if i+2 >= w.Len() {
				break
			}
			e := cidWidth{lo: int(lo.Int64()), hi: int(next.Int64()), w: w.Index(i + 2).Float64()}
			f.cidW = append(f.cidW, e)
			sum += e.w
			count++
			i += 3
		}
		sort.SliceStable(f.cidW, func(i, j int) bool { return f.cidW[i].lo < f.cidW[j].lo })
	default:
		if v.Key("Subtype").Name() == "Type3" {
			if m := v.Key("FontMatrix"); m.Len() == 6 && m.Index(0).Float64() != 0 {
				f.scale = math.Abs(m.Index(0).Float64())
			}
		}
		f.first = int(v.Key("FirstChar").Int64())
		ws := v.Key("Widths")
		for i := 0; i < ws.Len(); i++ {
			f.widths = append(f.widths, ws.Index(i).Float64())
			if f.widths[i] > 0 {
				sum += f.widths[i]
				count++
			}
		}
		f.missing = desc.Key("MissingWidth").Float64()
	}
	switch {
	case desc.Key("AvgWidth").Float64() > 0:
		f.avg = desc.Key("AvgWidth").Float64() * f.scale
	case count > 0 && sum > 0:
		f.avg = sum / float64(count) * f.scale
	default:
		f.avg = 0.5
	}
	return f
}

// glyph returns a character code's text and advance, remembered per font.
func (f *pdfFont) glyph(code string) pdfGlyphInfo {
	if g, ok := f.glyphs[code]; ok {
		return g
	}
	g := pdfGlyphInfo{s: f.enc.Decode(code)}
	var w float64
	if f.twoByte {
		cid := int(code[0])<<8 | int(code[1])
		w = f.dw
		// The entry with the greatest lo not above cid (cidW is sorted by
		// lo; a valid /W has no overlapping ranges).
		if i := sort.Search(len(f.cidW), func(i int) bool { return f.cidW[i].lo > cid }) - 1; i >= 0 && cid <= f.cidW[i].hi {
			if e := f.cidW[i]; e.ws != nil {
				w = e.ws[cid-e.lo]
			} else {
				w = e.w
			}
		}
	} else {
		w = f.missing
		if i := int(code[0]) - f.first; i >= 0 && i < len(f.widths) && f.widths[i] > 0 {
			w = f.widths[i]
		}
	}
	if w > 0 {
		g.w, g.known = w*f.scale, true
	}
	f.glyphs[code] = g
	return g
}

// pdfGlyph is one glyph as drawn on the page: its text, where its
// advance starts and ends, the unit vector of its baseline and its size,
// all in page space. unknown says the font gave no advance (so the end
// is a guess); flow says the glyph follows on from the last one drawn,
// with no text positioning between, so the gap between them is exact
// whatever their advances.
type pdfGlyph struct {
	s              string
	x0, y0, x1, y1 float64
	dx, dy, size   float64
	unknown, flow  bool
}

// pdfLayout turns glyphs, in drawing order, into lines of words.
type pdfLayout struct {
	page  strings.Builder
	line  []pdfPiece
	prev  pdfGlyph // the last glyph that was not a space
	space bool     // a space glyph was drawn since prev
}

// pdfPiece is a glyph's text on the current line and the gap before it,
// in ems; brk marks a break whatever the gap (a space glyph, or a jump
// backwards).
type pdfPiece struct {
	s     string
	gap   float64
	brk   bool
	loose bool
}

func (l *pdfLayout) add(g pdfGlyph) {
	if strings.TrimSpace(g.s) == "" {
		// Spaces carry no position worth following (some writers put
		// them anywhere); keep one between words.
		if g.s != "" && len(l.line) > 0 {
			l.space = true
		}
		return
	}
	if len(l.line) == 0 {
		l.line = append(l.line, pdfPiece{s: g.s})
		l.prev, l.space = g, false
		return
	}
	p := l.prev
	size := math.Max(p.size, 1)
	vx, vy := g.x0-p.x1, g.y0-p.y1
	along := vx*p.dx + vy*p.dy
	across := vx*p.dy - vy*p.dx
	adv := math.Hypot(p.x1-p.x0, p.y1-p.y0)
	switch {
	case math.Abs(across) > size/2 || g.dx*p.dx+g.dy*p.dy < 0.99:
		// A new baseline, or text turned another way.
		l.endLine()
		l.line = append(l.line, pdfPiece{s: g.s})
	default:
		l.line = append(l.line, pdfPiece{
			s:     g.s,
			gap:   along / size,
			brk:   l.space || along < -(adv+size/5),
			loose: p.unknown && !g.flow,
		})
	}
	l.prev, l.space = g, false
}

// endLine writes out the current line. A gap is a word break when it is
// wider than pdfWordGap plus the line's letter spacing: on a line of
// spaced-out letters, every gap is wide and only the wider ones part
// words.
func (l *pdfLayout) endLine() {
	if len(l.line) == 0 {
		return
	}
	var gaps []float64
	for _, p := range l.line[1:] {
		if !p.brk && !p.loose {
			gaps = append(gaps, p.gap)
		}
	}
	tracking := 0.0
	if len(gaps) >= pdfStatGaps {
		slices.Sort(gaps)
		tracking = min(max(gaps[len(gaps)/4], 0), pdfMaxTracking)
	}
	for i, p := range l.line {
		limit := pdfWordGap + tracking
		if p.loose {
			limit += pdfLooseGap
		}
		if i > 0 && (p.brk || p.gap > limit) {
			l.page.WriteByte(' ')
		}
		l.page.WriteString(p.s)
	}
	l.page.WriteByte('\n')
	l.line = l.line[:0]
	l.space = false
}

// The PDF reader sizes its cross-reference table from the numbers the file
// declares (an xref section's first object number and count, an xref
// stream's /Size and /Index) before it reads any object, so a 14 KB file
// declaring object 99,999,999 made it allocate gigabytes. checkXrefSizes
// refuses such declarations first: a real PDF's object numbers are far
// below its size in bytes (every object takes more than ten bytes). It
// reads tokens as the PDF reader does (any PDF whitespace, comments,
// names with #xx escapes) from every place an "xref" keyword or a name
// starts, whatever surrounds it, so that no spelling the reader accepts
// gets past it; a number that only looks like a declaration, inside a
// string or a stream, can refuse a file, never let one through.

// maxPDFObjects is the largest object number checkXrefSizes allows for a
// file of n bytes.
func maxPDFObjects(n int) int64 { return int64(n)/10 + 1024 }

func checkXrefSizes(data []byte) error {
	limit := maxPDFObjects(len(data))
	check := func(start, n int64) error {
		if start < 0 || n < 0 || start > limit || n > limit || start+n > limit {
			return fmt.Errorf("malformed PDF: it declares object number %d, more than a %d-byte file can hold", max(start, n), len(data))
		}
		return nil
	}
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == 'x' && bytes.HasPrefix(data[i:], []byte("xref")) && (i == 0 || pdfSpace(data[i-1]) || pdfDelim(data[i-1])) &&
			(i+4 == len(data) || pdfSpace(data[i+4]) || pdfDelim(data[i+4])):
			// Subsections: "start count", then count entries of three
			// tokens, until something else (the trailer).
			lx := pdfLexer{data: data, i: i + 4}
			for {
				start, ok1 := lx.int()
				n, ok2 := lx.int()
				if !ok1 || !ok2 {
					break
				}
				if err := check(start, n); err != nil {
					return err
				}
				for range 3 * n {
					if !lx.skip() {
						break
					}
				}
			}
		case data[i] == '/':
			lx := pdfLexer{data: data, i: i + 1}
			switch lx.name() {
			case "Size":
				if v, ok := lx.int(); ok {
					if err := check(0, v); err != nil {
						return err
					}
				}
			case "Index":
				if lx.token() != "[" {
					break
				}
				for {
					start, ok1 := lx.int()
					n, ok2 := lx.int()
					if !ok1 || !ok2 {
						break
					}
					if err := check(start, n); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func pdfSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func pdfDelim(c byte) bool {
	switch c {
	case '<', '>', '(', ')', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// pdfLexer reads the few tokens checkXrefSizes needs, as the PDF reader's
// lexer does.
type pdfLexer struct {
	data []byte
	i    int
}

// space skips whitespace and comments.
func (l *pdfLexer) space() {
	for l.i < len(l.data) {
		switch c := l.data[l.i]; {
		case pdfSpace(c):
			l.i++
		case c == '%':
			for l.i < len(l.data) && l.data[l.i] != '\r' && l.data[l.i] != '\n' {
				l.i++
			}
		default:
			return
		}
	}
}

// token returns the next token's text: a delimiter alone, or a run of
// regular characters (a number or keyword); "" at the end.
func (l *pdfLexer) token() string {
	l.space()
	if l.i >= len(l.data) {
		return ""
	}
	start := l.i
	if pdfDelim(l.data[l.i]) {
		l.i++
		return string(l.data[start:l.i])
	}
	for l.i < len(l.data) && !pdfSpace(l.data[l.i]) && !pdfDelim(l.data[l.i]) {
		l.i++
	}
	return string(l.data[start:l.i])
}

// skip passes over one token, reporting false at the end.
func (l *pdfLexer) skip() bool { return l.token() != "" }

// int reads the next token as an integer, leaving the lexer where it was
// when it is not one.
func (l *pdfLexer) int() (int64, bool) {
	at := l.i
	v, err := strconv.ParseInt(l.token(), 10, 64)
	if err != nil {
		l.i = at
		return 0, false
	}
	return v, true
}

// name reads a name's characters (after its '/'), decoding #xx escapes.
func (l *pdfLexer) name() string {
	var b []byte
	for l.i < len(l.data) && !pdfSpace(l.data[l.i]) && !pdfDelim(l.data[l.i]) && len(b) < 16 {
		c := l.data[l.i]
		l.i++
		if c == '#' && l.i+2 <= len(l.data) {
			if x, err := strconv.ParseUint(string(l.data[l.i:l.i+2]), 16, 8); err == nil {
				c = byte(x)
				l.i += 2
			}
		}
		b = append(b, c)
	}
	return string(b)
}
