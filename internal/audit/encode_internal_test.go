package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// encoderJSON is how the writer encoded lines before appendEvent.
func encoderJSON(t testing.TB, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var oddStrings = []string{"", "plain", `quo"te\back/slash`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<html>&amp;", "é日本😀",
	"\u2028\u2029", "bad\xffutf8\xc3", "\xed\xa0\x80", "\ufffd"}

func TestAppendEventMatchesEncoder(t *testing.T) {
	base := Event{
		EventVersion: eventVersion, EventTime: "2026-05-04T12:00:00Z", EventSource: EventSource, EventName: "Converse",
		AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0", RequestID: "req-1",
		EventID: "5f0c3a4e-0000-4000-8000-000000000000", ReadOnly: true, EventType: "AwsApiCall", ManagementEvent: true,
		RecipientAccountID: "000000000000", EventCategory: "Management",
		UserIdentity: UserIdentity{Type: "Unknown", AccountID: "000000000000"},
	}
	tests := []struct {
		name string
		edit func(e *Event)
	}{
		{"minimal", func(e *Event) {}},
		{"full", func(e *Event) {
			e.UserIdentity = UserIdentity{Type: "IAMUser", PrincipalID: "AIDA", ARN: "arn:aws:iam::000000000000:user/alice", AccountID: "000000000000", AccessKeyID: "AKIA", UserName: "alice"}
			e.ErrorCode, e.ErrorMessage = "ThrottlingException", `Too many "requests" <now>.`
			e.RequestParameters = Redact([]Param{{"modelId", "m<1>"}}, []byte(`{"messages":[],"maxTokens":5,"jobName":"a&b"}`))
			e.ResponseElements = Redact(nil, []byte(`{"guardrailId":"g","version":"1"}`))
			e.Resources = []Resource{{ARN: "arn:aws:bedrock:us-east-1::foundation-model/m", Type: "AWS::Bedrock::Model"}, {ARN: "arn:x", AccountID: "1", Type: "AWS::Bedrock::Guardrail"}}
			e.ReadOnly, e.ManagementEvent, e.EventCategory = false, false, "Data"
		}},
		{"empty resources", func(e *Event) { e.Resources = []Resource{} }},
		{"truncated parameters", func(e *Event) { e.RequestParameters = json.RawMessage(`{"truncated":"` + Hidden + `"}`) }},
	}
	for i, s := range oddStrings {
		tests = append(tests, struct {
			name string
			edit func(e *Event)
		}{"odd string " + string(rune('a'+i)), func(e *Event) {
			e.UserAgent, e.ErrorMessage, e.UserIdentity.UserName, e.RequestID = s, s, s, s
			e.Resources = []Resource{{ARN: s, AccountID: s, Type: s}}
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.edit(&e)
			if diff := cmp.Diff(encoderJSON(t, &e), string(appendEvent(nil, &e))); diff != "" {
				t.Errorf("appendEvent mismatch with json.Encoder (-encoder +appendEvent):\n%s", diff)
			}
		})
	}
}

func TestAppendDigestMatchesEncoder(t *testing.T) {
	for _, d := range []Digest{
		{},
		{StartSeq: 1, EndSeq: 1000, Time: "2026-05-04T12:00:00.123456789Z", PreviousSignature: "ab", Algorithm: "HMAC-SHA256", Signature: "cd"},
		{StartSeq: -5, EndSeq: 1 << 62, Time: "x\"y", Algorithm: "é"},
	} {
		if diff := cmp.Diff(encoderJSON(t, &d), string(appendDigest(nil, &d))); diff != "" {
			t.Errorf("appendDigest(%+v) mismatch with json.Encoder (-encoder +appendDigest):\n%s", d, diff)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), encoderJSON(t, s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestUUIDs(t *testing.T) {
	var u uuids
	seen := map[string]bool{}
	for range 3 * len(u.rnd) / 16 { // across refills
		id := u.next()
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("next() = %q, want a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("next() = %q twice", id)
		}
		seen[id] = true
	}
}
