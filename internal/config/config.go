// Package config defines Outcrop's configuration: its schema, the built-in
// defaults (default.yaml, embedded), loading from a YAML file, OUTCROP_*
// environment variables, and validation. Precedence, lowest first:
// defaults, config file, environment, command-line flags.
package config

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/catalog"
)

//go:embed default.yaml
var defaultYAML []byte

// Config is the whole server configuration.
type Config struct {
	Listen            string             `yaml:"listen"`
	DataDir           string             `yaml:"dataDir"`
	ModelsDir         string             `yaml:"modelsDir"`
	Region            string             `yaml:"region"`
	AccountID         string             `yaml:"accountId"`
	LogLevel          string             `yaml:"logLevel"`
	LogFormat         string             `yaml:"logFormat"`
	InvocationTimeout Duration           `yaml:"invocationTimeout"`
	Auth              Auth               `yaml:"auth"`
	ModelAccess       ModelAccess        `yaml:"modelAccess"`
	Quotas            Quotas             `yaml:"quotas"`
	Converse          Converse           `yaml:"converse"`
	Backends          map[string]Backend `yaml:"backends"`
	Models            []catalog.Model    `yaml:"models"`
	Prices            map[string]Price   `yaml:"prices"`
	Budgets           []Budget           `yaml:"budgets"`
	InvocationLogging InvocationLogging  `yaml:"invocationLogging"`
	Telemetry         Telemetry          `yaml:"telemetry"`
	// Buckets maps S3 bucket names (as knowledge-base data sources and
	// invocation logging name them) to gocloud.dev/blob URLs, such as
	// s3://docs?endpoint=http://minio:9000&use_path_style=true&region=us-east-1
	// for an S3-compatible store; a bucket not named here is the directory
	// <dataDir>/buckets/NAME.
	Buckets map[string]string `yaml:"buckets"`
	// KnowledgeBases configures where knowledge bases are kept.
	KnowledgeBases KnowledgeBases `yaml:"knowledgeBases"`
}

// KnowledgeBases configures knowledge bases (docs/knowledge-bases.md).
type KnowledgeBases struct {
	Store KBStore `yaml:"store"`
}

// KBStore is the store of knowledge bases, their documents and chunks.
type KBStore struct {
	// Kind is "sqlite" (default: the data directory's database, searched
	// in memory) or "postgres" (PostgreSQL with pgvector, searched by the
	// database, so that replicas can share it).
	Kind string `yaml:"kind"`
	// DSN is the PostgreSQL connection string (postgres://user@host/db?…
	// or key=value form); DSNEnv names an environment variable holding it
	// instead, to keep a password out of the file.
	DSN    string `yaml:"dsn"`
	DSNEnv string `yaml:"dsnEnv"`
}

// PostgresDSN returns the configured PostgreSQL connection string.
func (s KBStore) PostgresDSN() string {
	if s.DSNEnv != "" {
		return os.Getenv(s.DSNEnv)
	}
	return s.DSN
}

// Telemetry configures OpenTelemetry traces (docs/metrics.md, Traces).
// Tracing is on when an OTLP endpoint is configured here or in the
// environment (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
// otherwise it is off and costs nothing.
type Telemetry struct {
	// OTLPEndpoint is the collector's URL, e.g. http://localhost:4318
	// (http/protobuf; /v1/traces is added when the path is empty) or
	// http://localhost:4317 (grpc). An https URL uses TLS.
	OTLPEndpoint string `yaml:"otlpEndpoint"`
	// Protocol is "http/protobuf" (default) or "grpc"; empty takes
	// OTEL_EXPORTER_OTLP_PROTOCOL.
	Protocol string `yaml:"protocol"`
	// SampleRatio is the fraction of new traces recorded, 0 to 1 (default
	// 1). A request that carries a traceparent follows its sampled flag.
	SampleRatio *float64 `yaml:"sampleRatio"`
	// ServiceName is service.name (default "outcrop"); OTEL_SERVICE_NAME
	// overrides it.
	ServiceName string `yaml:"serviceName"`
}

// Price is a model's on-demand price in US dollars (docs/usage.md).
type Price struct {
	InputPer1K  float64 `yaml:"inputPer1k"`  // per 1,000 input tokens
	OutputPer1K float64 `yaml:"outputPer1k"` // per 1,000 output tokens
	PerImage    float64 `yaml:"perImage"`    // per generated image
}

// Budget caps the spend of one principal or one key per day or month.
// Principal or Key may be "*": each principal or key not named, separately.
type Budget struct {
	Principal string  `yaml:"principal"` // root, user name or role/<name>
	Key       string  `yaml:"key"`       // access key ID or API key ID
	Limit     float64 `yaml:"limit"`     // US dollars
	Period    string  `yaml:"period"`    // day (default) or month, UTC
	Action    string  `yaml:"action"`    // warn (default: log and metric) or block (ThrottlingException)
}

// Converse configures adaptive Converse (docs/compatibility.md).
type Converse struct {
	// Strict refuses requests that use what a model lacks (system prompt,
	// tools, documents, prefill) with Bedrock's ValidationException
	// instead of adapting them.
	Strict bool `yaml:"strict"`
}

// Auth configures request authentication.
type Auth struct {
	// Mode is "sigv4" (verify signatures and API keys) or "any" (accept any
	// credentials: for local testing only, never the default).
	Mode string `yaml:"mode"`
	// TrustedProxies lists the addresses or CIDR blocks of reverse proxies
	// whose X-Forwarded-For and X-Forwarded-Proto headers are believed for
	// aws:SourceIp and aws:SecureTransport. Empty: the headers are ignored
	// and the connection's peer address is the source.
	TrustedProxies []string `yaml:"trustedProxies"`
}

// ModelAccess configures which models the account may invoke before any
// CreateFoundationModelAgreement or DeleteFoundationModelAgreement call.
type ModelAccess struct {
	// Default is "enabled" (every catalog model may be invoked until its
	// agreement is deleted) or "disabled" (a model must be enabled first).
	Default string `yaml:"default"`
}

// Quotas limit model invocations (InvokeModel, Converse and their
// streaming forms). In each map the key "*" applies to every model,
// principal or key not named, each counted separately. Empty: no limits.
type Quotas struct {
	Models     map[string]QuotaLimit `yaml:"models"`     // by model ID, summed over all callers
	Principals map[string]QuotaLimit `yaml:"principals"` // by "root", user name, "role/<name>" or ARN
	Keys       map[string]QuotaLimit `yaml:"keys"`       // by access key ID or API key ID
	// Redis, a redis:// or rediss:// URL, keeps the buckets in Redis so
	// that the limits hold across replicas; empty keeps them in process.
	Redis string `yaml:"redis"`
}

// QuotaLimit is one set of per-minute limits; zero means unlimited.
type QuotaLimit struct {
	RequestsPerMinute int `yaml:"requestsPerMinute"`
	TokensPerMinute   int `yaml:"tokensPerMinute"`
}

// Backend is one configured backend instance.
type Backend struct {
	Kind   string         `yaml:"kind"`
	Config map[string]any `yaml:"config"`
}

// RawConfig returns the backend's config block as JSON for its adapter.
func (b Backend) RawConfig() (json.RawMessage, error) {
	if b.Config == nil {
		return nil, nil
	}
	return json.Marshal(b.Config)
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// Default returns the built-in configuration with DataDir set to the user's
// data directory.
func Default() (*Config, error) {
	c := &Config{}
	if err := decode(defaultYAML, c); err != nil {
		return nil, fmt.Errorf("built-in config: %w", err)
	}
	c.DataDir = DefaultDataDir()
	return c, nil
}

// DefaultDataDir is $XDG_DATA_HOME/outcrop, else ~/.local/share/outcrop.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "outcrop")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".outcrop"
	}
	return filepath.Join(home, ".local", "share", "outcrop")
}

// decode reads YAML strictly into c. Top-level keys starting with "x-" are
// free for YAML anchors and ignored.
func decode(src []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	inline(root, 0)
	if root.Kind == yaml.MappingNode {
		kept := root.Content[:0:0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if !strings.HasPrefix(root.Content[i].Value, "x-") {
				kept = append(kept, root.Content[i], root.Content[i+1])
			}
		}
		root.Content = kept
	}
	// Re-encode and decode strictly so unknown keys are reported.
	b, err := yaml.Marshal(root)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(c)
}

// inline replaces alias nodes by copies of what they point to, so the
// document can be re-encoded without its anchor definitions.
func inline(n *yaml.Node, depth int) {
	if depth > 64 {
		return
	}
	n.Anchor = ""
	for i, c := range n.Content {
		if c.Kind == yaml.AliasNode && c.Alias != nil {
			cp := *c.Alias
			n.Content[i] = &cp
			c = &cp
		}
		inline(c, depth+1)
	}
}

// MergeFile merges the YAML file at path over c.
func (c *Config) MergeFile(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var over Config
	if err := decode(src, &over); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	c.merge(&over)
	return nil
}

func (c *Config) merge(o *Config) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Listen, o.Listen)
	set(&c.DataDir, o.DataDir)
	set(&c.ModelsDir, o.ModelsDir)
	set(&c.Region, o.Region)
	set(&c.AccountID, o.AccountID)
	set(&c.LogLevel, o.LogLevel)
	set(&c.LogFormat, o.LogFormat)
	set(&c.Auth.Mode, o.Auth.Mode)
	set(&c.ModelAccess.Default, o.ModelAccess.Default)
	if o.Auth.TrustedProxies != nil {
		c.Auth.TrustedProxies = o.Auth.TrustedProxies
	}
	if o.Buckets != nil {
		c.Buckets = o.Buckets
	}
	if o.KnowledgeBases.Store != (KBStore{}) {
		c.KnowledgeBases.Store = o.KnowledgeBases.Store
	}
	if o.InvocationTimeout != 0 {
		c.InvocationTimeout = o.InvocationTimeout
	}
	c.Converse.Strict = c.Converse.Strict || o.Converse.Strict
	c.mergeCost(o)
	set(&c.InvocationLogging.Keeper, o.InvocationLogging.Keeper)
	set(&c.Telemetry.OTLPEndpoint, o.Telemetry.OTLPEndpoint)
	set(&c.Telemetry.Protocol, o.Telemetry.Protocol)
	set(&c.Telemetry.ServiceName, o.Telemetry.ServiceName)
	if o.Telemetry.SampleRatio != nil {
		c.Telemetry.SampleRatio = o.Telemetry.SampleRatio
	}
	for _, m := range []struct {
		dst *map[string]QuotaLimit
		src map[string]QuotaLimit
	}{
		{&c.Quotas.Models, o.Quotas.Models}, {&c.Quotas.Principals, o.Quotas.Principals}, {&c.Quotas.Keys, o.Quotas.Keys},
	} {
		if m.src != nil {
			*m.dst = m.src
		}
	}
	if c.Backends == nil {
		c.Backends = map[string]Backend{}
	}
	for k, v := range o.Backends {
		c.Backends[k] = v
	}
	for _, m := range o.Models {
		replaced := false
		for i := range c.Models {
			if c.Models[i].ID == m.ID {
				c.Models[i], replaced = m, true
			}
		}
		if !replaced {
			c.Models = append(c.Models, m)
		}
	}
}

// EnvVars lists the environment variables MergeEnv reads.
var EnvVars = map[string]string{
	"OUTCROP_LISTEN":             "listen",
	"OUTCROP_DATA_DIR":           "dataDir",
	"OUTCROP_MODELS_DIR":         "modelsDir",
	"OUTCROP_REGION":             "region",
	"OUTCROP_ACCOUNT_ID":         "accountId",
	"OUTCROP_LOG_LEVEL":          "logLevel",
	"OUTCROP_LOG_FORMAT":         "logFormat",
	"OUTCROP_AUTH_MODE":          "auth.mode",
	"OUTCROP_MODEL_ACCESS":       "modelAccess.default",
	"OUTCROP_INVOCATION_TIMEOUT": "invocationTimeout",
}

// MergeEnv applies OUTCROP_* variables from getenv.
func (c *Config) MergeEnv(getenv func(string) string) error {
	o := &Config{}
	fields := map[string]*string{
		"OUTCROP_LISTEN": &o.Listen, "OUTCROP_DATA_DIR": &o.DataDir, "OUTCROP_MODELS_DIR": &o.ModelsDir,
		"OUTCROP_REGION": &o.Region, "OUTCROP_ACCOUNT_ID": &o.AccountID, "OUTCROP_LOG_LEVEL": &o.LogLevel,
		"OUTCROP_LOG_FORMAT": &o.LogFormat, "OUTCROP_AUTH_MODE": &o.Auth.Mode,
		"OUTCROP_MODEL_ACCESS": &o.ModelAccess.Default,
	}
	for k, p := range fields {
		*p = getenv(k)
	}
	if v := getenv("OUTCROP_INVOCATION_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("OUTCROP_INVOCATION_TIMEOUT: %w", err)
		}
		o.InvocationTimeout = Duration(d)
	}
	c.merge(o)
	return nil
}

// Validate checks settings that do not depend on other packages (model
// families and backend kinds are checked when the server is built).
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("dataDir is empty")
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		return fmt.Errorf("accountId %q must be 12 digits", c.AccountID)
	}
	if c.Region == "" {
		return fmt.Errorf("region is empty")
	}
	switch c.Auth.Mode {
	case "sigv4", "any":
	default:
		return fmt.Errorf("auth.mode %q: want sigv4 or any", c.Auth.Mode)
	}
	for _, p := range c.Auth.TrustedProxies {
		if _, err := ParseAddrOrPrefix(p); err != nil {
			return fmt.Errorf("auth.trustedProxies: %w", err)
		}
	}
	switch c.ModelAccess.Default {
	case "enabled", "disabled":
	default:
		return fmt.Errorf("modelAccess.default %q: want enabled or disabled", c.ModelAccess.Default)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("logLevel %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return fmt.Errorf("logFormat %q: want json or text", c.LogFormat)
	}
	for name, u := range c.Buckets {
		if !strings.HasPrefix(u, "s3://") && !strings.HasPrefix(u, "file://") {
			return fmt.Errorf("buckets[%q]: %q is not an s3:// or file:// URL", name, u)
		}
	}
	if err := c.KnowledgeBases.Store.validate(); err != nil {
		return err
	}
	if u := c.Quotas.Redis; u != "" && !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") {
		return fmt.Errorf("quotas.redis: %q is not a redis:// or rediss:// URL", u)
	}
	for scope, m := range map[string]map[string]QuotaLimit{"models": c.Quotas.Models, "principals": c.Quotas.Principals, "keys": c.Quotas.Keys} {
		for name, l := range m {
			if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 {
				return fmt.Errorf("quotas.%s[%q]: limits must not be negative", scope, name)
			}
		}
	}
	if err := c.validateCost(); err != nil {
		return err
	}
	switch c.Telemetry.Protocol {
	case "", "http/protobuf", "grpc":
	default:
		return fmt.Errorf("telemetry.protocol %q: want http/protobuf or grpc", c.Telemetry.Protocol)
	}
	if r := c.Telemetry.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		return fmt.Errorf("telemetry.sampleRatio %v: want 0 to 1", *r)
	}
	if u := c.Telemetry.OTLPEndpoint; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("telemetry.otlpEndpoint %q: want an http:// or https:// URL", u)
	}
	for name, b := range c.Backends {
		if b.Kind == "" {
			return fmt.Errorf("backend %q: kind is missing", name)
		}
	}
	return nil
}

// ParseAddrOrPrefix parses a CIDR block, or a single address as a block of
// one.
func ParseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ModelsPath is ModelsDir, or <DataDir>/models.
func (c *Config) ModelsPath() string {
	if c.ModelsDir != "" {
		return c.ModelsDir
	}
	return filepath.Join(c.DataDir, "models")
}

func (s KBStore) validate() error {
	switch s.Kind {
	case "", "sqlite":
		if s.DSN != "" || s.DSNEnv != "" {
			return fmt.Errorf("knowledgeBases.store: a dsn is for kind postgres, not %q", cmp.Or(s.Kind, "sqlite"))
		}
	case "postgres":
		switch {
		case s.DSN != "" && s.DSNEnv != "":
			return fmt.Errorf("knowledgeBases.store: give dsn or dsnEnv, not both")
		case s.DSNEnv != "" && os.Getenv(s.DSNEnv) == "":
			return fmt.Errorf("knowledgeBases.store.dsnEnv: the environment variable %s is empty", s.DSNEnv)
		case s.DSN == "" && s.DSNEnv == "":
			return fmt.Errorf("knowledgeBases.store: kind postgres needs a dsn (postgres://user:password@host:5432/db) or dsnEnv")
		}
		if d := s.PostgresDSN(); !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") && !strings.Contains(d, "=") {
			return fmt.Errorf("knowledgeBases.store: the dsn is neither a postgres:// URL nor key=value settings")
		}
	default:
		return fmt.Errorf("knowledgeBases.store.kind %q: want sqlite or postgres", s.Kind)
	}
	return nil
}
