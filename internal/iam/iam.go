// Package iam holds identities and authorization for the one account: the
// account root, IAM users and roles, their access keys (for SigV4) and
// Bedrock API keys (bearer tokens), identity-based policies (inline and
// customer managed, in the language of package policy), tags on principals
// and resources, model access, and Authorize, the hook every operation
// calls. docs/iam.md describes the whole.
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
	"sync/atomic"
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
	Store     Store     // keys
	Directory Directory // users, roles, policies, tags, model access
	AccountID string
	Now       func() time.Time
	// CacheTTL is how long a looked-up key, and the snapshot of users,
	// policies and tags, are trusted before the store is asked again:
	// changes made by another process on the same data directory take effect
	// within it (changes through this Service at once). Zero or less
	// disables caching.
	CacheTTL time.Duration
	// ModelAccessDefault says whether a model that was never enabled or
	// disabled for the account may be invoked.
	ModelAccessDefault bool
}

// Service authenticates and authorizes principals.
type Service struct {
	opts    Options
	rootARN string // arn:aws:iam::<account>:root, made once
	mu      sync.Mutex
	cache   map[string]cached

	st       atomic.Pointer[state]
	dirty    atomic.Bool
	reloadMu sync.Mutex
	tagMu    sync.Mutex // serializes read-modify-write of tag sets
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
	return &Service{opts: opts, rootARN: fmt.Sprintf("arn:aws:iam::%s:root", opts.AccountID), cache: map[string]cached{}}
}

// AccountID returns the account the service serves.
func (s *Service) AccountID() string { return s.opts.AccountID }

// Principal returns the principal for a key owner: "root", a user name, or
// "role/<name>" (which acts as a session of the role named after the key).
func (s *Service) Principal(owner, keyID string) *reqctx.Principal {
	var arn string
	switch k, name := parseRef(owner); {
	case owner == RootUser:
		arn = s.rootARN
	case k == Role:
		arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", s.opts.AccountID, name, keyID)
	default:
		arn = fmt.Sprintf("arn:aws:iam::%s:user/%s", s.opts.AccountID, name)
	}
	return &reqctx.Principal{AccountID: s.opts.AccountID, ARN: arn, Name: owner, KeyID: keyID}
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
	p := s.Principal(k.User, k.ID)
	p.APIKey = true
	return p, nil
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

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// checkOwner makes sure a key's owner exists: "root", a user name, or
// "role/<name>".
func (s *Service) checkOwner(ctx context.Context, owner string) error {
	if owner == RootUser {
		return nil
	}
	_, err := s.entity(ctx, owner)
	return err
}

// CreateAccessKey makes and stores a new key pair for owner: "root", a
// user name, or "role/<name>".
func (s *Service) CreateAccessKey(ctx context.Context, user string, expires time.Time) (AccessKey, error) {
	if err := s.checkOwner(ctx, user); err != nil {
		return AccessKey{}, err
	}
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
	if err := s.checkOwner(ctx, user); err != nil {
		return "", APIKey{}, err
	}
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
