package dialect

import (
	"encoding/base64"
	"strings"
)

// ImageFormat returns the canonical image format of a MIME type.
func ImageFormat(mediaType string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(mediaType)) {
	case "image/png":
		return "png", true
	case "image/jpeg", "image/jpg":
		return "jpeg", true
	case "image/gif":
		return "gif", true
	case "image/webp":
		return "webp", true
	}
	return "", false
}

// DocumentFormat returns the canonical document format of a MIME type.
func DocumentFormat(mediaType string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(mediaType)) {
	case "application/pdf":
		return "pdf", true
	case "text/plain":
		return "txt", true
	case "text/csv":
		return "csv", true
	case "text/html":
		return "html", true
	case "text/markdown":
		return "md", true
	case "application/msword":
		return "doc", true
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
		return "docx", true
	case "application/vnd.ms-excel":
		return "xls", true
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return "xlsx", true
	}
	return "", false
}

// DataURL splits a base64 data URL ("data:image/png;base64,...") into its
// media type and decoded bytes. ok is false for anything else, including
// http(s) URLs, which Outcrop does not fetch on a caller's behalf.
func DataURL(u string) (mediaType string, data []byte, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", nil, false
	}
	meta, payload, found := strings.Cut(rest, ",")
	if !found {
		return "", nil, false
	}
	mt, enc, _ := strings.Cut(meta, ";")
	if enc != "base64" {
		return "", nil, false
	}
	b, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(payload); err != nil {
			return "", nil, false
		}
	}
	return mt, b, true
}
