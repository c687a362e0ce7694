package openaicompat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/provider"
)

// Duration is a time.Duration that decodes from a Go duration string
// ("90s", "5m") or a number of seconds.
type Duration time.Duration

// UnmarshalJSON decodes "90s" or 90.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("want a duration string or seconds, got %s", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// Common is the config every upstream kind shares. Kinds embed it in
// their own config block.
type Common struct {
	// BaseURL is the upstream's address (each kind has a default).
	BaseURL string `json:"baseURL"`
	// APIKey is the credential, or APIKeyEnv names the environment
	// variable that holds it (preferred: keeps keys out of config files).
	APIKey    string `json:"apiKey"`
	APIKeyEnv string `json:"apiKeyEnv"`
	// Headers are sent with every request.
	Headers map[string]string `json:"headers"`
	// Timeout bounds the wait for the response and, while streaming, for
	// each next piece of it (default 120s).
	Timeout Duration `json:"timeout"`
	// MaxRetries is how many times a throttled, failed or unreachable
	// request is retried (default 2; 0 turns retries off).
	MaxRetries *int `json:"maxRetries"`
}

// DecodeConfig decodes raw into c strictly: unknown fields are errors.
func DecodeConfig(kind string, raw json.RawMessage, c any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%s backend config: %w", kind, err)
	}
	if dec.More() {
		return fmt.Errorf("%s backend config: trailing data", kind)
	}
	return nil
}

// Key returns the configured credential ("" when none is configured).
func (c *Common) Key(kind string) (string, error) {
	if c.APIKey != "" && c.APIKeyEnv != "" {
		return "", fmt.Errorf("%s backend config: set apiKey or apiKeyEnv, not both", kind)
	}
	if c.APIKeyEnv != "" {
		v := os.Getenv(c.APIKeyEnv)
		if v == "" {
			return "", fmt.Errorf("%s backend config: environment variable %s (apiKeyEnv) is empty or unset", kind, c.APIKeyEnv)
		}
		return v, nil
	}
	return c.APIKey, nil
}

// NewHTTP builds the upstream client from the common config. auth sets
// the credential's header(s) when key is not empty.
func (c *Common) NewHTTP(kind, defaultBase string, env provider.Env, auth func(h http.Header, key string)) (*HTTP, error) {
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = defaultBase
	}
	if base == "" {
		return nil, fmt.Errorf("%s backend config: baseURL is required", kind)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s backend config: baseURL %q is not an http(s) URL", kind, base)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("%s backend config: timeout must not be negative", kind)
	}
	retries := DefaultMaxRetries
	if c.MaxRetries != nil {
		retries = *c.MaxRetries
	}
	if retries < 0 || retries > 10 {
		return nil, errors.New(kind + " backend config: maxRetries must be between 0 and 10")
	}
	key, err := c.Key(kind)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	if key != "" && auth != nil {
		auth(h, key)
	}
	log := env.Logger
	if log != nil {
		log = log.With("backend", kind)
	}
	hc := &HTTP{
		Client:     PooledClient(env.HTTPClient),
		BaseURL:    base,
		Header:     h,
		Timeout:    time.Duration(c.Timeout),
		MaxRetries: retries,
		Name:       kind,
		Log:        log,
		Now:        env.Now,
	}
	if key != "" {
		hc.Secrets = append(hc.Secrets, key)
	}
	return hc, nil
}

// Bearer sets "Authorization: Bearer key".
func Bearer(h http.Header, key string) { h.Set("Authorization", "Bearer "+key) }
