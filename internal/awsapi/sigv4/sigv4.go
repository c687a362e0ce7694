// Package sigv4 verifies AWS Signature Version 4 on incoming requests.
//
// Verification recomputes the signature with the AWS SDK's own signer over a
// copy of the request that carries only the signed headers, the raw (still
// percent-encoded) path, and the SHA-256 of the body as received, then
// compares in constant time. Over HTTP/2 the client signs `:authority`, which
// net/http exposes as r.Host, so the host is always taken from r.Host.
package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/outcrop/outcrop/internal/fault"
)

const (
	algorithm = "AWS4-HMAC-SHA256"
	// MaxSkew is the clock skew AWS tolerates between signer and server.
	MaxSkew = 15 * time.Minute
	amzDate = "20060102T150405Z"
)

// Auth is the parsed Authorization header.
type Auth struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses an `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header.
func ParseAuthorization(h string) (Auth, error) {
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return Auth{}, fault.New(fault.Unsigned, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	var a Auth
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Auth{}, incomplete(h)
		}
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.Signature = v
		}
	}
	if cred == "" || signed == "" || a.Signature == "" {
		return Auth{}, incomplete(h)
	}
	f := strings.Split(cred, "/")
	if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" || len(f[1]) != 8 {
		return Auth{}, fault.Newf(fault.BadSignature, "Credential should be scoped to a valid region, not '%s'. ", safe(cred))
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
	a.SignedHeaders = strings.Split(signed, ";")
	if len(a.Signature) != 64 {
		return Auth{}, fault.New(fault.BadSignature, signatureMismatch)
	}
	if _, err := hex.DecodeString(a.Signature); err != nil {
		return Auth{}, fault.New(fault.BadSignature, signatureMismatch)
	}
	return a, nil
}

func incomplete(h string) error {
	return fault.Newf(fault.BadSignature, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=%s", safe(h))
}

// safe truncates attacker-controlled text echoed in messages.
func safe(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.ToValidUTF8(s, "?")
}

const signatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// Credentials resolves an access key ID to its secret.
type Credentials interface {
	// SecretFor returns the secret access key for id, or an error of kind
	// fault.Unauthenticated (unknown key) or fault.Expired.
	SecretFor(ctx context.Context, accessKeyID string) (secret string, err error)
}

// Verifier checks SigV4 signatures.
type Verifier struct {
	Creds Credentials
	Now   func() time.Time
	// Service is the signing name every request must be scoped to
	// ("bedrock" for all four Bedrock APIs).
	Service string
	signer  *v4.Signer
}

// NewVerifier returns a verifier for signing name service.
func NewVerifier(creds Credentials, now func() time.Time, service string) *Verifier {
	return &Verifier{Creds: creds, Now: now, Service: service, signer: v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = false
	})}
}

// Verify checks the Authorization header of r against body (the complete
// request body). It returns the parsed header on success.
func (v *Verifier) Verify(r *http.Request, body []byte) (Auth, error) {
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return Auth{}, err
	}
	if a.Service != v.Service {
		return Auth{}, fault.Newf(fault.BadSignature, "Credential should be scoped to correct service: '%s'. ", v.Service)
	}
	dateStr := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDate, dateStr)
	if err != nil {
		return Auth{}, fault.New(fault.BadSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if t.Format("20060102") != a.Date {
		return Auth{}, fault.Newf(fault.BadSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", safe(a.Date), t.Format("20060102"), safe(dateStr))
	}
	now := v.Now().UTC()
	if t.Before(now.Add(-MaxSkew)) {
		return Auth{}, fault.Newf(fault.BadSignature, "Signature expired: %s is now earlier than %s (%s - 15 min.)", dateStr, now.Add(-MaxSkew).Format(amzDate), now.Format(amzDate))
	}
	if t.After(now.Add(MaxSkew)) {
		return Auth{}, fault.Newf(fault.BadSignature, "Signature not yet current: %s is still later than %s (%s + 15 min.)", dateStr, now.Add(MaxSkew).Format(amzDate), now.Format(amzDate))
	}
	secret, err := v.Creds.SecretFor(r.Context(), a.AccessKeyID)
	if err != nil {
		return Auth{}, err
	}
	want, err := v.sign(r, a, body, secret, t)
	if err != nil {
		return Auth{}, err
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) != 1 {
		return Auth{}, fault.New(fault.BadSignature, signatureMismatch)
	}
	return a, nil
}

// sign recomputes the signature the client should have produced.
func (v *Verifier) sign(r *http.Request, a Auth, body []byte, secret string, t time.Time) (string, error) {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	c := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	hasHost := false
	for _, h := range a.SignedHeaders {
		switch h {
		case "host":
			hasHost = true
		case "content-length":
			c.ContentLength = r.ContentLength
			if c.ContentLength < 0 {
				c.ContentLength = int64(len(body))
			}
		default:
			if vals, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				c.Header[http.CanonicalHeaderKey(h)] = vals
			} else if h != "content-length" {
				return "", fault.New(fault.BadSignature, signatureMismatch)
			}
		}
	}
	if !hasHost {
		return "", fault.New(fault.BadSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" || !isStreamingHash(hash) {
		sum := sha256.Sum256(body)
		got := hex.EncodeToString(sum[:])
		if hash != "" && hash != got && hash != "UNSIGNED-PAYLOAD" {
			return "", fault.New(fault.BadSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		if hash != "UNSIGNED-PAYLOAD" {
			hash = got
		}
	}
	creds := aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v.signer.SignHTTP(r.Context(), creds, c, hash, a.Service, a.Region, t); err != nil {
		return "", fault.Wrap(fault.BadSignature, err, signatureMismatch)
	}
	got, err := ParseAuthorization(c.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	return got.Signature, nil
}

func isStreamingHash(h string) bool { return strings.HasPrefix(h, "STREAMING-") }
