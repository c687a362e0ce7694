package kb

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// MetadataSuffix names the sidecar file of a document's attributes, as in
// Bedrock: "report.pdf" has its attributes in "report.pdf.metadata.json".
const MetadataSuffix = ".metadata.json"

// maxDocBytes bounds one source document (Bedrock's limit is 50 MB).
const maxDocBytes = 50 << 20

// ErrUnsupported is returned for a file type Outcrop cannot parse.
var ErrUnsupported = errors.New("unsupported file type")

// Parse extracts the text of a document from its bytes. The format comes
// from the file name's extension, or from mimeType when name has none.
func Parse(name, mimeType string, data []byte) (string, error) {
	if len(data) > maxDocBytes {
		return "", fmt.Errorf("document is larger than %d bytes", maxDocBytes)
	}
	kind := strings.ToLower(path.Ext(name))
	if kind == "" {
		kind = map[string]string{"text/plain": ".txt", "text/markdown": ".md", "text/html": ".html",
			"text/csv": ".csv", "application/json": ".json",
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx", "application/pdf": ".pdf"}[strings.ToLower(strings.TrimSpace(strings.Split(mimeType, ";")[0]))]
	}
	switch kind {
	case ".txt", ".text", "":
		return cleanText(data)
	case ".md", ".markdown":
		t, err := cleanText(data)
		return stripMarkdown(t), err
	case ".html", ".htm":
		return parseHTML(data)
	case ".csv", ".json":
		if _, err := cleanText(data); err != nil {
			return "", err
		}
		if kind == ".csv" {
			return parseCSV(data)
		}
		return parseJSON(data)
	case ".docx":
		return parseDOCX(data)
	case ".pdf":
		return parsePDF(data)
	}
	return "", fmt.Errorf("%w %s", ErrUnsupported, kind)
}

func cleanText(data []byte) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return "", errors.New("text is not valid UTF-8")
	}
	return strings.ReplaceAll(string(data), "\r\n", "\n"), nil
}

var (
	mdLink     = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdEmphasis = regexp.MustCompile(`(\*\*|__|\*|` + "`" + `)`)
	mdHeading  = regexp.MustCompile(`(?m)^\s{0,3}(#{1,6}|>|[-*+]\s|\d+\.\s)\s*`)
)

// stripMarkdown drops markup that carries no words: link targets,
// emphasis, heading and list markers.
func stripMarkdown(s string) string {
	s = mdLink.ReplaceAllString(s, "$1")
	s = mdHeading.ReplaceAllString(s, "")
	return mdEmphasis.ReplaceAllString(s, "")
}

// parseHTML returns the visible text of a page: it skips scripts, styles
// and navigation and breaks lines at block elements.
func parseHTML(data []byte) (string, error) {
	z := html.NewTokenizer(bytes.NewReader(data))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return strings.ToValidUTF8(collapseBlank(b.String()), "\uFFFD"), nil
			}
			return "", z.Err()
		case html.StartTagToken, html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "nav", "header", "footer", "noscript", "template", "svg":
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			case "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "title", "table", "ul", "ol", "pre", "blockquote":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte(' ')
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		}
	}
}

var blankLines = regexp.MustCompile(`[ \t]*\n[ \t\n]*`)

func collapseBlank(s string) string {
	return strings.TrimSpace(blankLines.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Count(m, "\n") > 1 {
			return "\n\n"
		}
		return "\n"
	}))
}

// parseCSV turns each row into "column: value" pairs, one row per line,
// taking column names from the first row.
func parseCSV(data []byte) (string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", nil
	}
	head := rows[0]
	var b strings.Builder
	for _, row := range rows[1:] {
		for i, v := range row {
			if i > 0 {
				b.WriteString("; ")
			}
			if i < len(head) {
				b.WriteString(head[i])
				b.WriteString(": ")
			}
			b.WriteString(v)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// parseJSON flattens a JSON document into "path: value" lines.
func parseJSON(data []byte) (string, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	var b strings.Builder
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := sortedKeys(x)
			for _, k := range keys {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x[k])
			}
		case []any:
			for i, e := range x {
				walk(prefix+"["+strconv.Itoa(i)+"]", e)
			}
		default:
			if prefix != "" {
				b.WriteString(prefix)
				b.WriteString(": ")
			}
			fmt.Fprint(&b, x)
			b.WriteString("\n")
		}
	}
	walk("", v)
	return b.String(), nil
}

// parseDOCX reads the paragraphs of word/document.xml.
func parseDOCX(data []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", err
	}
	for _, f := range zr.File {
		if f.Name != "word/document.xml" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		defer rc.Close()
		d := xml.NewDecoder(io.LimitReader(rc, maxDocBytes))
		var b strings.Builder
		inText := false
		for {
			tok, err := d.Token()
			if err == io.EOF {
				return collapseBlank(b.String()), nil
			}
			if err != nil {
				return "", err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				switch t.Name.Local {
				case "t":
					inText = true
				case "tab":
					b.WriteByte('\t')
				case "br":
					b.WriteByte('\n')
				}
			case xml.EndElement:
				switch t.Name.Local {
				case "t":
					inText = false
				case "p":
					b.WriteByte('\n')
				}
			case xml.CharData:
				if inText {
					b.Write(t)
				}
			}
		}
	}
	return "", errors.New("not a DOCX file: word/document.xml is missing")
}

// ParseMetadata reads a .metadata.json sidecar:
//
//	{"metadataAttributes": {"year": 2021, "genre": "poetry", "tags": ["a","b"],
//	  "author": {"value": {"type": "STRING", "stringValue": "X"}, "includeForEmbedding": true}}}
func ParseMetadata(data []byte) (map[string]any, error) {
	var doc struct {
		MetadataAttributes map[string]json.RawMessage `json:"metadataAttributes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("metadata file: %w", err)
	}
	out := map[string]any{}
	for k, raw := range doc.MetadataAttributes {
		v, err := attrValue(raw)
		if err != nil {
			return nil, fmt.Errorf("metadata attribute %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func attrValue(raw json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string, float64, bool:
		return x, nil
	case []any:
		return stringList(x)
	case map[string]any:
		var typed struct {
			Value TypedValue `json:"value"`
		}
		if err := json.Unmarshal(raw, &typed); err != nil {
			return nil, err
		}
		return typed.Value.Any()
	}
	return nil, fmt.Errorf("unsupported value %s", raw)
}

func stringList(x []any) ([]string, error) {
	l := make([]string, len(x))
	for i, e := range x {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("lists must hold strings")
		}
		l[i] = s
	}
	return l, nil
}

// TypedValue is Bedrock's MetadataAttributeValue.
type TypedValue struct {
	Type            string   `json:"type"`
	StringValue     *string  `json:"stringValue,omitempty"`
	NumberValue     *float64 `json:"numberValue,omitempty"`
	BooleanValue    *bool    `json:"booleanValue,omitempty"`
	StringListValue []string `json:"stringListValue,omitempty"`
}

// Any returns the plain value.
func (t TypedValue) Any() (any, error) {
	switch {
	case t.Type == "STRING" && t.StringValue != nil:
		return *t.StringValue, nil
	case t.Type == "NUMBER" && t.NumberValue != nil:
		return *t.NumberValue, nil
	case t.Type == "BOOLEAN" && t.BooleanValue != nil:
		return *t.BooleanValue, nil
	case t.Type == "STRING_LIST":
		return append([]string{}, t.StringListValue...), nil
	}
	return nil, fmt.Errorf("attribute of type %q has no matching value", t.Type)
}

// MarshalMeta encodes chunk metadata for storage.
func MarshalMeta(m map[string]any) []byte {
	b, _ := json.Marshal(m)
	return b
}

// UnmarshalMeta decodes stored chunk metadata, restoring string lists.
func UnmarshalMeta(b []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return map[string]any{}
	}
	for k, v := range m {
		if l, ok := v.([]any); ok {
			if sl, err := stringList(l); err == nil {
				m[k] = sl
			}
		}
	}
	return m
}

// SplitText splits text by the FIXED_SIZE or NONE strategy. FIXED_SIZE
// makes windows of at most MaxTokens words (a word approximates a token),
// each starting Overlap percent of a window before the previous one
// ended; windows prefer to end at a sentence end in their last fifth.
// NONE keeps the whole text.
func SplitText(text string, c Chunking) []string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return nil
	}
	if c.Strategy == ChunkNone || len(words) <= c.MaxTokens {
		return []string{strings.Join(words, " ")}
	}
	var out []string
	for _, w := range windows(words, c.MaxTokens, c.MaxTokens*c.Overlap/100) {
		out = append(out, strings.Join(words[w[0]:w[1]], " "))
	}
	return out
}
