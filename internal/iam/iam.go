// Package iam holds identities: the account's principals, their access keys
// (for SigV4) and Bedrock API keys (bearer tokens), and the authorization
// hook every operation calls. Policies (identity-based JSON with AWS's
// evaluation logic) plug into Authorize later; today every active principal
// of the account is allowed.
package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// RootUser is the user name of the account root.
const RootUser = "root"

// AccessKey is a SigV4 key pair.
type AccessKey struct {
	ID      string
	Secret  string
	User    string
	Active  bool
	Created time.Time
	Expires time.Time // zero: never
}

// APIKey is a long-term Bedrock API key. Only a hash of the token is kept.
type APIKey struct {
	ID      string
	User    string
	Hash    []byte // SHA-256 of the whole token
	Active  bool
	Created time.Time
	Expires time.Time // zero: never
}

// Store persists keys. store/sqlite implements it.
type Store interface {
	PutAccessKey(ctx context.Context, k AccessKey) error
	AccessKey(ctx context.Context, id string) (AccessKey, error) // fault.NotFound if absent
	AccessKeys(ctx context.Context) ([]AccessKey, error)
	PutAPIKey(ctx context.Context, k APIKey) error
	APIKey(ctx context.Context, id string) (APIKey, error) // fault.NotFound if absent
	APIKeys(ctx context.Context) ([]APIKey, error)
}

// Options configures a Service.
type Options struct {
	Store     Store
	AccountID string
	Now       func() time.Time
	// CacheTTL is how long a looked-up key is trusted before the store is
	// asked again; revocations take effect within it. Zero disables caching.
	CacheTTL time.Duration
}

// Service authenticates and authorizes principals.
type Service struct {
	opts  Options
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	k  AccessKey
	p  *reqctx.Principal
	at time.Time
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts, cache: map[string]cached{}}
}

// AccountID returns the account the service serves.
func (s *Service) AccountID() string { return s.opts.AccountID }

// Principal returns the principal for a user name.
func (s *Service) Principal(user, keyID string) *reqctx.Principal {
	arn := fmt.Sprintf("arn:aws:iam::%s:user/%s", s.opts.AccountID, user)
	if user == RootUser {
		arn = fmt.Sprintf("arn:aws:iam::%s:root", s.opts.AccountID)
	}
	return &reqctx.Principal{AccountID: s.opts.AccountID, ARN: arn, Name: user, KeyID: keyID}
}

const (
	msgUnknownKey = "The security token included in the request is invalid."
	msgExpired    = "The security token included in the request is expired"
)

// accessKey returns the key and its principal, from the cache while fresh.
// Callers must not modify the principal.
func (s *Service) accessKey(ctx context.Context, id string) (AccessKey, *reqctx.Principal, error) {
	now := s.opts.Now()
	if s.opts.CacheTTL > 0 {
		s.mu.Lock()
		c, ok := s.cache[id]
		s.mu.Unlock()
		if ok && now.Sub(c.at) < s.opts.CacheTTL {
			return c.k, c.p, nil
		}
	}
	k, err := s.opts.Store.AccessKey(ctx, id)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return AccessKey{}, nil, fault.New(fault.Unauthenticated, msgUnknownKey)
		}
		return AccessKey{}, nil, err
	}
	p := s.Principal(k.User, k.ID)
	if s.opts.CacheTTL > 0 {
		s.mu.Lock()
		if len(s.cache) > 10000 {
			clear(s.cache)
		}
		s.cache[id] = cached{k, p, now}
		s.mu.Unlock()
	}
	return k, p, nil
}

// SecretFor returns the secret of an active, unexpired access key. It
// satisfies sigv4.Credentials.
func (s *Service) SecretFor(ctx context.Context, id string) (string, error) {
	k, _, err := s.accessKey(ctx, id)
	if err != nil {
		return "", err
	}
	if !k.Active {
		return "", fault.New(fault.Unauthenticated, msgUnknownKey)
	}
	if !k.Expires.IsZero() && !s.opts.Now().Before(k.Expires) {
		return "", fault.New(fault.Expired, msgExpired)
	}
	return k.Secret, nil
}

// PrincipalForAccessKey returns who owns a verified access key.
func (s *Service) PrincipalForAccessKey(ctx context.Context, id string) (*reqctx.Principal, error) {
	_, p, err := s.accessKey(ctx, id)
	return p, err
}

// API key tokens look like AWS's long-term keys: "ABSK" followed by the
// base64 of "BedrockAPIKey-<id>-at-<account>:<secret>".
const apiKeyPrefix = "ABSK"

// AuthenticateBearer checks a Bedrock API key.
func (s *Service) AuthenticateBearer(ctx context.Context, token string) (*reqctx.Principal, error) {
	id, ok := parseAPIKey(token)
	if !ok {
		return nil, fault.New(fault.Unauthenticated, "Invalid API Key format: Must start with pre-defined prefix")
	}
	k, err := s.opts.Store.APIKey(ctx, id)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil, fault.New(fault.Unauthenticated, msgUnknownKey)
		}
		return nil, err
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], k.Hash) != 1 || !k.Active {
		return nil, fault.New(fault.Unauthenticated, msgUnknownKey)
	}
	if !k.Expires.IsZero() && !s.opts.Now().Before(k.Expires) {
		return nil, fault.New(fault.Expired, "API Key is expired")
	}
	return s.Principal(k.User, k.ID), nil
}

func parseAPIKey(token string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(token, apiKeyPrefix)
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", false
	}
	body, ok := strings.CutPrefix(string(raw), "BedrockAPIKey-")
	if !ok {
		return "", false
	}
	head, _, ok := strings.Cut(body, ":")
	if !ok {
		return "", false
	}
	id, _, ok = strings.Cut(head, "-at-")
	return id, ok && id != ""
}

// Authorize is the authorization hook every operation calls with its IAM
// action (e.g. "bedrock:InvokeModel") and resource ARN. Identity-based
// policies will be evaluated here; until then every authenticated principal
// of the account may do everything.
func (s *Service) Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error {
	if p == nil {
		return fault.New(fault.Denied, "You don't have access to the model with the specified model ID.")
	}
	if p.Anonymous || p.AccountID == s.opts.AccountID {
		return nil
	}
	return fault.Newf(fault.Denied, "User: %s is not authorized to perform: %s on resource: %s", p.ARN, action, resource)
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// CreateAccessKey makes and stores a new key pair for user.
func (s *Service) CreateAccessKey(ctx context.Context, user string, expires time.Time) (AccessKey, error) {
	secret := make([]byte, 30)
	if _, err := rand.Read(secret); err != nil {
		return AccessKey{}, err
	}
	k := AccessKey{
		ID:      "AKIA" + randString(16, keyAlphabet),
		Secret:  base64.StdEncoding.EncodeToString(secret)[:40],
		User:    user,
		Active:  true,
		Created: s.opts.Now().UTC().Truncate(time.Second),
		Expires: expires,
	}
	return k, s.opts.Store.PutAccessKey(ctx, k)
}

// CreateAPIKey makes and stores a Bedrock API key for user and returns the
// token, which is shown once and never stored.
func (s *Service) CreateAPIKey(ctx context.Context, user string, expires time.Time) (string, APIKey, error) {
	id := "BAK" + randString(17, keyAlphabet)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", APIKey{}, err
	}
	raw := fmt.Sprintf("BedrockAPIKey-%s-at-%s:%s", id, s.opts.AccountID, base64.RawURLEncoding.EncodeToString(secret))
	token := apiKeyPrefix + base64.StdEncoding.EncodeToString([]byte(raw))
	sum := sha256.Sum256([]byte(token))
	k := APIKey{ID: id, User: user, Hash: sum[:], Active: true, Created: s.opts.Now().UTC().Truncate(time.Second), Expires: expires}
	return token, k, s.opts.Store.PutAPIKey(ctx, k)
}

// RevokeKey deactivates an access key or API key by ID.
func (s *Service) RevokeKey(ctx context.Context, id string) error {
	if k, err := s.opts.Store.AccessKey(ctx, id); err == nil {
		k.Active = false
		s.mu.Lock()
		delete(s.cache, id)
		s.mu.Unlock()
		return s.opts.Store.PutAccessKey(ctx, k)
	}
	k, err := s.opts.Store.APIKey(ctx, id)
	if err != nil {
		return fault.Newf(fault.NotFound, "no access key or API key with ID %s", id)
	}
	k.Active = false
	return s.opts.Store.PutAPIKey(ctx, k)
}

// EnsureRoot returns the account root's first active access key, creating
// one when the store has none. created reports whether it was made now.
func (s *Service) EnsureRoot(ctx context.Context) (k AccessKey, created bool, err error) {
	keys, err := s.opts.Store.AccessKeys(ctx)
	if err != nil {
		return AccessKey{}, false, err
	}
	for _, k := range keys {
		if k.User == RootUser && k.Active {
			return k, false, nil
		}
	}
	k, err = s.CreateAccessKey(ctx, RootUser, time.Time{})
	return k, err == nil, err
}

// Store returns the key store (for listing by administration commands).
func (s *Service) Store() Store { return s.opts.Store }
