package audit

// The implementation of Redact before it walked the JSON itself, kept
// verbatim (renamed) as the reference that TestRedactMatchesOld and
// FuzzRedact compare the new one with.

import (
	"bytes"
	"encoding/json"
	"strings"
)

// oldContentFields are keys whose whole value is content: replaced by Hidden
// without looking inside, so no name or identifier nested in a prompt
// (a document's name, a tool result's ID) leaks either.
var oldContentFields = map[string]bool{
	"messages": true, "system": true, "prompt": true, "prompts": true, "inputText": true, "inputTexts": true,
	"text": true, "texts": true, "content": true, "input": true, "body": true, "query": true,
	"retrievalQuery": true, "instruction": true, "output": true, "outputs": true, "outputText": true,
	"completion": true, "generation": true, "results": true, "embedding": true, "embeddings": true,
	"images": true, "modelInput": true, "sessionState": true, "promptVariables": true,
	"additionalModelRequestFields": true, "additionalModelResponseFields": true, "inputSchema": true,
	"guardContent": true, "queryContent": true, "citations": true,
	"blockedInputMessaging": true, "blockedOutputsMessaging": true, "definition": true,
	"examples": true, "description": true, "requestMetadata": true, "toolResult": true, "message": true,
}

// oldKeptIDs are string fields kept although their names have no kept suffix.
var oldKeptIDs = map[string]bool{
	"name": true, "version": true, "status": true, "nextToken": true, "clientRequestToken": true,
	"clientToken": true, "trace": true, "latency": true, "sortBy": true, "sortOrder": true,
	"byProvider": true, "byCustomizationType": true, "byOutputModality": true, "byInferenceType": true,
	"contentType": true, "accept": true, "stopReason": true, "action": true, "key": true,
}

// oldKeptSuffixes are name endings of string fields that hold identifiers.
var oldKeptSuffixes = []string{"Id", "Ids", "Identifier", "Identifiers", "Arn", "Arns", "ARN", "Name", "Names",
	"Version", "Status", "Type", "Mode", "Tier", "Region", "Time", "At"}

// oldSecretWords mark fields dropped whatever their value: credentials and
// signatures never reach the trail.
var oldSecretWords = []string{"secret", "password", "signature", "credential", "authorization", "apikey", "sessiontoken", "bearer"}

func oldKeepString(key string) bool {
	if oldKeptIDs[key] {
		return true
	}
	for _, s := range oldKeptSuffixes {
		if strings.HasSuffix(key, s) {
			return true
		}
	}
	return false
}

func oldSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range oldSecretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// oldRedact returns the parts of a JSON request or response body that an
// audit record may hold, merged over params (path and header parameters,
// which win): numbers and booleans anywhere, strings only under
// identifier-like names (…Id, …Arn, …Name, version, status, …), content
// fields replaced by Hidden, secrets dropped. A body that is not a JSON
// object contributes nothing. It returns nil when nothing is left.
func oldRedact(params []Param, body []byte) json.RawMessage {
	out := map[string]any{}
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '{' {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&m) == nil {
			for k, v := range m {
				if r, ok := oldRedactValue(k, v, 0); ok {
					out[k] = r
				}
			}
		}
	}
	for _, p := range params {
		if oldSecretKey(p.Name) {
			continue
		}
		out[p.Name] = p.Value
	}
	if len(out) == 0 {
		return nil
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	if len(raw) > maxParams {
		raw, _ = json.Marshal(map[string]string{"truncated": Hidden})
	}
	return raw
}

// oldRedactValue returns what may be kept of v found under key.
func oldRedactValue(key string, v any, depth int) (any, bool) {
	if oldSecretKey(key) {
		return nil, false
	}
	if oldContentFields[key] {
		return Hidden, true
	}
	if depth > 8 {
		return nil, false
	}
	switch v := v.(type) {
	case nil, bool, json.Number:
		return v, true
	case string:
		if oldKeepString(key) && len(v) <= 2048 {
			return v, true
		}
		return nil, false
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if r, ok := oldRedactValue(k, e, depth+1); ok {
				out[k] = r
			}
		}
		if len(out) == 0 {
			return nil, false
		}
		return out, true
	case []any:
		var out []any
		for _, e := range v {
			// Array elements are judged by the array's own name.
			if r, ok := oldRedactValue(key, e, depth+1); ok {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, false
		}
		return out, true
	}
	return nil, false
}
