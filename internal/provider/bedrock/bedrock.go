// Package bedrock is the "bedrock" backend kind: Amazon Bedrock itself (or
// any endpoint that speaks bedrock-runtime's wire protocol) as an upstream,
// reached through aws-sdk-go-v2's bedrockruntime client (and its
// bedrockagentruntime client for Rerank) and signed with the operator's AWS
// credentials. Converse and ConverseStream map the canonical
// types to the SDK's; InvokeModel bodies whose family the upstream model
// reads natively pass through untouched (provider.RawInvoker). docs/backends.md
// describes the config block.
package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
)

// Spec registers the "bedrock" backend kind.
var Spec = provider.Spec{Kind: Kind, New: newAdapter}

// Kind is the backend kind's name.
const Kind = "bedrock"

// Defaults of Config.
const (
	DefaultMaxRetries = 2
	DefaultTimeout    = 120 * time.Second
	maxBackoff        = 8 * time.Second
)

// Config is the backend's config block. Unknown fields are errors.
type Config struct {
	// Region is the upstream's AWS region; empty means the default chain's
	// (AWS_REGION, the profile's region).
	Region string `json:"region"`
	// EndpointURL replaces the regional endpoint (a VPC endpoint, or any
	// Bedrock-compatible server).
	EndpointURL string `json:"endpointURL"`
	// Profile names a shared-config profile (~/.aws/config); empty means
	// the default credential chain (environment, shared files, SSO, web
	// identity, container and instance roles).
	Profile string `json:"profile"`
	// AccessKeyID and SecretAccessKey (or SecretAccessKeyEnv, preferred)
	// are static credentials; SessionToken is optional with them.
	AccessKeyID        string `json:"accessKeyId"`
	SecretAccessKey    string `json:"secretAccessKey"`
	SecretAccessKeyEnv string `json:"secretAccessKeyEnv"`
	SessionToken       string `json:"sessionToken"`
	// Timeout bounds a non-streamed call and the wait for a stream's
	// response headers (default 120s).
	Timeout openaicompat.Duration `json:"timeout"`
	// MaxRetries is how many times the SDK's retryer retries a throttled,
	// failed or unreachable call (default 2; 0 turns retries off).
	MaxRetries *int `json:"maxRetries"`
	// RawInvoke lets InvokeModel bodies pass through untouched when the
	// upstream model reads the catalog family natively (default true).
	RawInvoke *bool `json:"rawInvoke"`
}

// Adapter is the bedrock backend. It is safe for concurrent use.
type Adapter struct {
	client  *bedrockruntime.Client
	agent   *bedrockagentruntime.Client // Rerank
	region  string
	timeout time.Duration
	raw     bool
	secrets []string
}

var (
	_ provider.Adapter    = (*Adapter)(nil)
	_ provider.Embedder   = (*Adapter)(nil)
	_ provider.RawInvoker = (*Adapter)(nil)
	_ provider.Reranker   = (*Adapter)(nil)
)

func newAdapter(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	return New(raw, env)
}

// New builds the backend from its config block.
func New(raw json.RawMessage, env provider.Env) (*Adapter, error) {
	var c Config
	if err := openaicompat.DecodeConfig(Kind, raw, &c); err != nil {
		return nil, err
	}
	if c.Timeout < 0 {
		return nil, errors.New("bedrock backend config: timeout must not be negative")
	}
	retries := DefaultMaxRetries
	if c.MaxRetries != nil {
		retries = *c.MaxRetries
	}
	if retries < 0 || retries > 10 {
		return nil, errors.New("bedrock backend config: maxRetries must be between 0 and 10")
	}
	if c.EndpointURL != "" {
		u, err := url.Parse(c.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("bedrock backend config: endpointURL %q is not an http(s) URL", c.EndpointURL)
		}
	}
	secret := c.SecretAccessKey
	if c.SecretAccessKeyEnv != "" {
		if secret != "" {
			return nil, errors.New("bedrock backend config: set secretAccessKey or secretAccessKeyEnv, not both")
		}
		if secret = os.Getenv(c.SecretAccessKeyEnv); secret == "" {
			return nil, fmt.Errorf("bedrock backend config: environment variable %s (secretAccessKeyEnv) is empty or unset", c.SecretAccessKeyEnv)
		}
	}
	static := c.AccessKeyID != "" || secret != ""
	if static && (c.AccessKeyID == "" || secret == "") {
		return nil, errors.New("bedrock backend config: static credentials need both accessKeyId and secretAccessKey")
	}
	if static && c.Profile != "" {
		return nil, errors.New("bedrock backend config: set a profile or static credentials, not both")
	}
	if c.SessionToken != "" && !static {
		return nil, errors.New("bedrock backend config: sessionToken needs accessKeyId and secretAccessKey")
	}

	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.AddWithMaxBackoffDelay(retry.AddWithMaxAttempts(retry.NewStandard(), retries+1), maxBackoff)
		}),
	}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if static {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, secret, c.SessionToken)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("bedrock backend config: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("bedrock backend config: no region (set region, AWS_REGION or the profile's region)")
	}
	client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.HTTPClient = openaicompat.PooledClient(sdkClient(env.HTTPClient))
		if c.EndpointURL != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(c.EndpointURL, "/"))
		}
	})
	agent := bedrockagentruntime.NewFromConfig(cfg, func(o *bedrockagentruntime.Options) {
		o.HTTPClient = openaicompat.PooledClient(sdkClient(env.HTTPClient))
		if c.EndpointURL != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(c.EndpointURL, "/"))
		}
	})
	a := &Adapter{client: client, agent: agent, region: cfg.Region, timeout: time.Duration(c.Timeout), raw: c.RawInvoke == nil || *c.RawInvoke}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	for _, s := range []string{c.AccessKeyID, secret, c.SessionToken} {
		if s != "" {
			a.secrets = append(a.secrets, s)
		}
	}
	return a, nil
}

// sdkClient drops the shared client's overall Timeout, which would cut
// long streams; the adapter bounds each call itself.
func sdkClient(c *http.Client) *http.Client {
	if c == nil {
		return nil
	}
	cc := *c
	cc.Timeout = 0
	return &cc
}

// callContext bounds a call (or, for a stream, the wait for its first
// response) by the backend's timeout.
func (a *Adapter) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, a.timeout, errTimedOut)
}

var errTimedOut = errors.New("bedrock upstream timed out")

// statusOf is the HTTP status of each bedrock-runtime exception, for
// exceptions that arrive inside an event stream (without a status).
var statusOf = map[string]int{
	"ValidationException":           400,
	"AccessDeniedException":         403,
	"ResourceNotFoundException":     404,
	"ModelTimeoutException":         408,
	"ThrottlingException":           429,
	"ModelNotReadyException":        429,
	"ServiceQuotaExceededException": 400,
	"ModelErrorException":           424,
	"ModelStreamErrorException":     424,
	"InternalServerException":       500,
	"ServiceUnavailableException":   503,
}

// credentialErrors are the AWS front door's answers to bad, expired or
// unauthorised credentials. Their messages can quote the signed request,
// so they are never passed on.
var credentialErrors = map[string]bool{
	"AccessDeniedException": true, "UnrecognizedClientException": true, "InvalidSignatureException": true,
	"IncompleteSignature": true, "IncompleteSignatureException": true, "ExpiredTokenException": true,
	"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "MissingAuthenticationTokenException": true,
	"MissingAuthenticationToken": true, "ExpiredToken": true, "UnauthorizedException": true,
}

var safeMessage = regexp.MustCompile(`^[\x20-\x7e]*$`)

// mapError turns an SDK error into a fault. parent is the caller's
// context: when it ended, its error is returned as is.
func (a *Adapter) mapError(parent, ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if errors.Is(context.Cause(ctx), errTimedOut) {
		return fault.Wrap(fault.ModelTimeout, a.redactErr(err), "The bedrock backend did not respond in time.")
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fault.Wrap(fault.Unavailable, a.redactErr(err), "The bedrock backend cannot be reached.")
	}
	code, msg := ae.ErrorCode(), a.redact(ae.ErrorMessage())
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if status == 0 {
		status = statusOf[code]
	}
	if credentialErrors[code] || status == http.StatusUnauthorized {
		if status == 0 {
			status = http.StatusForbidden
		}
		return fault.Wrap(fault.Unavailable, fmt.Errorf("upstream bedrock: HTTP %d %s (message withheld)", status, code),
			fmt.Sprintf("The bedrock backend refused Outcrop's AWS credentials (HTTP %d, %s). An operator must check the backend's credentials, region and model access.", status, code))
	}
	cause := fmt.Errorf("upstream bedrock: HTTP %d %s: %s", status, code, msg)
	switch code {
	case "ValidationException":
		m := "The bedrock backend rejected the request as invalid."
		if msg != "" && len(msg) <= 1024 && safeMessage.MatchString(msg) {
			m = msg
		}
		return fault.Wrap(fault.Invalid, cause, m)
	case "ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException":
		return fault.Wrap(fault.Throttled, cause, fmt.Sprintf("The bedrock backend is throttling requests (%s). Try again later.", code))
	case "ModelTimeoutException":
		return fault.Wrap(fault.ModelTimeout, cause, "The bedrock backend's model timed out.")
	case "ModelNotReadyException":
		return fault.Wrap(fault.ModelNotReady, cause, "The bedrock backend's model is not ready to serve requests. Try again later.")
	case "ModelErrorException", "ModelStreamErrorException", "InternalServerException":
		return fault.Wrap(fault.ModelFailed, cause, fmt.Sprintf("The bedrock backend's model failed (%s).", code))
	case "ServiceUnavailableException":
		return fault.Wrap(fault.Unavailable, cause, "The bedrock backend is unavailable (ServiceUnavailableException).")
	}
	// Anything else is mapped by status, as every HTTP backend maps it.
	h := openaicompat.HTTP{Name: Kind, Secrets: a.secrets}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	ferr, _ := h.StatusError(status, code, msg)
	return ferr
}

func (a *Adapter) redact(s string) string {
	for _, sec := range a.secrets {
		s = strings.ReplaceAll(s, sec, "REDACTED")
	}
	return s
}

func (a *Adapter) redactErr(err error) error {
	s := err.Error()
	if r := a.redact(s); r != s {
		return errors.New(r)
	}
	return err
}
