package audit

import (
	"strconv"
	"unicode/utf8"
)

// The writer encodes lines by hand rather than with json.Encoder, whose
// reflection was most of the writer's cost. The output is byte for byte
// what json.Encoder with SetEscapeHTML(false) writes for the same values
// (TestAppendEventMatchesEncoder), so the file format is unchanged.

// appendEvent appends e as JSON. RequestParameters and ResponseElements
// must be compact JSON or nil, as Redact returns them; they are copied
// as they are.
func appendEvent(b []byte, e *Event) []byte {
	b = append(b, `{"eventVersion":`...)
	b = appendJSONString(b, e.EventVersion)
	b = append(b, `,"userIdentity":{"type":`...)
	u := &e.UserIdentity
	b = appendJSONString(b, u.Type)
	b = appendOptional(b, `,"principalId":`, u.PrincipalID)
	b = appendOptional(b, `,"arn":`, u.ARN)
	b = appendOptional(b, `,"accountId":`, u.AccountID)
	b = appendOptional(b, `,"accessKeyId":`, u.AccessKeyID)
	b = appendOptional(b, `,"userName":`, u.UserName)
	b = append(b, `},"eventTime":`...)
	b = appendJSONString(b, e.EventTime)
	b = append(b, `,"eventSource":`...)
	b = appendJSONString(b, e.EventSource)
	b = append(b, `,"eventName":`...)
	b = appendJSONString(b, e.EventName)
	b = append(b, `,"awsRegion":`...)
	b = appendJSONString(b, e.AWSRegion)
	b = append(b, `,"sourceIPAddress":`...)
	b = appendJSONString(b, e.SourceIPAddress)
	b = append(b, `,"userAgent":`...)
	b = appendJSONString(b, e.UserAgent)
	b = appendOptional(b, `,"errorCode":`, e.ErrorCode)
	b = appendOptional(b, `,"errorMessage":`, e.ErrorMessage)
	b = append(b, `,"requestParameters":`...)
	b = appendRaw(b, e.RequestParameters)
	b = append(b, `,"responseElements":`...)
	b = appendRaw(b, e.ResponseElements)
	b = append(b, `,"requestID":`...)
	b = appendJSONString(b, e.RequestID)
	b = append(b, `,"eventID":`...)
	b = appendJSONString(b, e.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, e.ReadOnly)
	if len(e.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i := range e.Resources {
			r := &e.Resources[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"ARN":`...)
			b = appendJSONString(b, r.ARN)
			b = appendOptional(b, `,"accountId":`, r.AccountID)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, r.Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"eventType":`...)
	b = appendJSONString(b, e.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, e.ManagementEvent)
	b = append(b, `,"recipientAccountId":`...)
	b = appendJSONString(b, e.RecipientAccountID)
	b = append(b, `,"eventCategory":`...)
	b = appendJSONString(b, e.EventCategory)
	return append(b, '}')
}

// appendDigest appends d as JSON.
func appendDigest(b []byte, d *Digest) []byte {
	b = append(b, `{"digestStartSeq":`...)
	b = strconv.AppendInt(b, d.StartSeq, 10)
	b = append(b, `,"digestEndSeq":`...)
	b = strconv.AppendInt(b, d.EndSeq, 10)
	b = append(b, `,"digestTime":`...)
	b = appendJSONString(b, d.Time)
	b = append(b, `,"previousDigestSignature":`...)
	b = appendJSONString(b, d.PreviousSignature)
	b = append(b, `,"digestSignatureAlgorithm":`...)
	b = appendJSONString(b, d.Algorithm)
	b = append(b, `,"digestSignature":`...)
	b = appendJSONString(b, d.Signature)
	return append(b, '}')
}

// appendOptional appends an omitempty string field: name (with its comma
// and colon) and value, or nothing when value is "".
func appendOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendJSONString(append(b, name...), value)
}

func appendRaw(b, raw []byte) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does
// without HTML escaping: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
