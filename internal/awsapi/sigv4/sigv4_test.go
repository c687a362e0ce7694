package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/outcrop/outcrop/internal/fault"
)

type creds map[string]string

func (c creds) SecretFor(_ context.Context, id string) (string, error) {
	s, ok := c[id]
	if !ok {
		return "", fault.New(fault.Unauthenticated, "unknown")
	}
	return s, nil
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// sign signs a request the way the AWS SDK does, with the SDK's own signer.
func sign(t *testing.T, method, rawURL string, body []byte, id, secret string, at time.Time, hdr map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	// What the server sees: Host comes from the request line or :authority.
	r.Host = r.URL.Host
	return r
}

func TestVerify(t *testing.T) {
	v := NewVerifier(creds{"AKIDEXAMPLE": "secret"}, func() time.Time { return now }, "bedrock")
	body := []byte(`{"messages":[]}`)
	arnPath := "http://127.0.0.1:4280/model/" + url.PathEscape("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1") + "/invoke"
	tests := []struct {
		name     string
		req      func() *http.Request
		mutate   func(*http.Request)
		wantKind fault.Kind
		ok       bool
	}{
		{name: "valid", req: func() *http.Request {
			return sign(t, "POST", "http://127.0.0.1:4280/model/m/converse", body, "AKIDEXAMPLE", "secret", now, nil)
		}, ok: true},
		{name: "arn path double-encoded", req: func() *http.Request { return sign(t, "POST", arnPath, body, "AKIDEXAMPLE", "secret", now, nil) }, ok: true},
		{name: "query string", req: func() *http.Request {
			return sign(t, "GET", "http://h/foundation-models?byProvider=Amazon&byOutputModality=TEXT", nil, "AKIDEXAMPLE", "secret", now, nil)
		}, ok: true},
		{name: "wrong secret", req: func() *http.Request {
			return sign(t, "POST", "http://h/model/m/converse", body, "AKIDEXAMPLE", "nope", now, nil)
		}, wantKind: fault.BadSignature},
		{name: "unknown key", req: func() *http.Request {
			return sign(t, "POST", "http://h/model/m/converse", body, "AKIDOTHER", "secret", now, nil)
		}, wantKind: fault.Unauthenticated},
		{name: "body tampered", req: func() *http.Request {
			return sign(t, "POST", "http://h/model/m/converse", body, "AKIDEXAMPLE", "secret", now, nil)
		},
			mutate: func(r *http.Request) { r.Body = nil }, wantKind: fault.BadSignature},
		{name: "signed header changed", req: func() *http.Request {
			return sign(t, "POST", "http://h/model/m/converse", body, "AKIDEXAMPLE", "secret", now, map[string]string{"Content-Type": "application/json"})
		}, mutate: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, wantKind: fault.BadSignature},
		{name: "host changed", req: func() *http.Request {
			return sign(t, "POST", "http://h/model/m/converse", body, "AKIDEXAMPLE", "secret", now, nil)
		},
			mutate: func(r *http.Request) { r.Host = "other" }, wantKind: fault.BadSignature},
		{name: "clock skew past", req: func() *http.Request {
			return sign(t, "POST", "http://h/x", body, "AKIDEXAMPLE", "secret", now.Add(-16*time.Minute), nil)
		}, wantKind: fault.BadSignature},
		{name: "clock skew future", req: func() *http.Request {
			return sign(t, "POST", "http://h/x", body, "AKIDEXAMPLE", "secret", now.Add(16*time.Minute), nil)
		}, wantKind: fault.BadSignature},
		{name: "within skew", req: func() *http.Request {
			return sign(t, "POST", "http://h/x", body, "AKIDEXAMPLE", "secret", now.Add(-14*time.Minute), nil)
		}, ok: true},
		{name: "wrong service", req: func() *http.Request { return sign(t, "POST", "http://h/x", body, "AKIDEXAMPLE", "secret", now, nil) },
			mutate: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/bedrock/", "/s3/", 1))
			}, wantKind: fault.BadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			var b []byte
			if r.Method == "POST" {
				b = body
			}
			if tt.mutate != nil {
				tt.mutate(r)
				if r.Body == nil {
					b = []byte(`{"messages":[1]}`)
				}
			}
			_, err := v.Verify(r, b)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				return
			}
			if err == nil || fault.KindOf(err) != tt.wantKind {
				t.Fatalf("Verify() = %v (kind %v), want kind %v", err, fault.KindOf(err), tt.wantKind)
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=, Signature=")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err == nil && (a.AccessKeyID == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0) {
			t.Fatalf("ParseAuthorization(%q) accepted an incomplete header: %+v", h, a)
		}
		if err != nil && fault.KindOf(err) == fault.Internal {
			t.Fatalf("ParseAuthorization(%q) error has no kind: %v", h, err)
		}
	})
}
