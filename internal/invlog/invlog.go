// Package invlog is model invocation logging: when the account's logging
// configuration is set (PutModelInvocationLoggingConfiguration), every
// model invocation's full request and response is written in Bedrock's
// invocation-log record format to a bucket. Records are batched off the
// request path into gzipped JSON-lines objects, rotated by size and age,
// and each object is sealed with envelope encryption: a fresh AES-256-GCM
// data key per object, wrapped by a gocloud.dev/secrets keeper.
//
// Logging is disabled by default, as in Bedrock.
package invlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"

	"github.com/outcrop/outcrop/internal/fault"
)

// Config is Bedrock's LoggingConfig, with the wire member names.
type Config struct {
	CloudWatchConfig             *CloudWatchConfig `json:"cloudWatchConfig,omitempty"`
	S3Config                     *S3Config         `json:"s3Config,omitempty"`
	TextDataDeliveryEnabled      *bool             `json:"textDataDeliveryEnabled,omitempty"`
	ImageDataDeliveryEnabled     *bool             `json:"imageDataDeliveryEnabled,omitempty"`
	EmbeddingDataDeliveryEnabled *bool             `json:"embeddingDataDeliveryEnabled,omitempty"`
	VideoDataDeliveryEnabled     *bool             `json:"videoDataDeliveryEnabled,omitempty"`
	AudioDataDeliveryEnabled     *bool             `json:"audioDataDeliveryEnabled,omitempty"`
}

// CloudWatchConfig names a log group. Outcrop has no CloudWatch Logs: a
// log group is a local directory, <data-dir>/invocation-logs/cloudwatch/<group>.
type CloudWatchConfig struct {
	LogGroupName              string    `json:"logGroupName"`
	RoleArn                   string    `json:"roleArn"`
	LargeDataDeliveryS3Config *S3Config `json:"largeDataDeliveryS3Config,omitempty"`
}

// S3Config names a bucket and key prefix.
type S3Config struct {
	BucketName string `json:"bucketName"`
	KeyPrefix  string `json:"keyPrefix,omitempty"`
}

func on(b *bool) bool { return b != nil && *b }

var (
	roleARN    = regexp.MustCompile(`^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// Validate checks c as Bedrock does: a destination is required and names
// must satisfy the service model's constraints.
func (c *Config) Validate() error {
	if c.CloudWatchConfig == nil && c.S3Config == nil {
		return fault.New(fault.Invalid, "At least one of cloudWatchConfig or s3Config must be specified.")
	}
	checkS3 := func(s *S3Config, field string) error {
		if s == nil {
			return nil
		}
		if !bucketName.MatchString(s.BucketName) {
			return fault.Newf(fault.Invalid, "1 validation error detected: Value '%s' at '%s.bucketName' failed to satisfy constraint: Member must be a valid bucket name", s.BucketName, field)
		}
		if len(s.KeyPrefix) > 1024 {
			return fault.Newf(fault.Invalid, "1 validation error detected: Value at '%s.keyPrefix' failed to satisfy constraint: Member must have length less than or equal to 1024", field)
		}
		return nil
	}
	if err := checkS3(c.S3Config, "loggingConfig.s3Config"); err != nil {
		return err
	}
	if cw := c.CloudWatchConfig; cw != nil {
		if cw.LogGroupName == "" || len(cw.LogGroupName) > 512 || !logGroup.MatchString(cw.LogGroupName) {
			return fault.Newf(fault.Invalid, "1 validation error detected: Value '%s' at 'loggingConfig.cloudWatchConfig.logGroupName' failed to satisfy constraint: Member must be a valid log group name", cw.LogGroupName)
		}
		if !roleARN.MatchString(cw.RoleArn) {
			return fault.Newf(fault.Invalid, "1 validation error detected: Value '%s' at 'loggingConfig.cloudWatchConfig.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+", cw.RoleArn)
		}
		if err := checkS3(cw.LargeDataDeliveryS3Config, "loggingConfig.cloudWatchConfig.largeDataDeliveryS3Config"); err != nil {
			return err
		}
	}
	return nil
}

var logGroup = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)

// Entry is one finished invocation, as the server saw it.
type Entry struct {
	Time         time.Time
	RequestID    string
	Operation    string // InvokeModel, InvokeModelWithResponseStream, Converse, ConverseStream
	ModelID      string // as the caller named it
	IdentityARN  string
	Region       string
	InputType    string // input content type
	Input        []byte // request body
	OutputType   string
	Output       []byte   // response body (non-streaming)
	Chunks       [][]byte // decoded stream events or chunks (streaming)
	InputTokens  int
	OutputTokens int
	ErrorCode    string // the exception name when the call failed
	Embedding    bool   // the model returns embeddings
}

// Options configures a Logger.
type Options struct {
	// Dir holds the configuration, and is where local log groups live.
	Dir string
	// OpenBucket opens the bucket an S3Config names.
	OpenBucket func(ctx context.Context, name string) (*blob.Bucket, error)
	// Keeper wraps each object's data key.
	Keeper    *secrets.Keeper
	AccountID string
	Logger    *slog.Logger
	Now       func() time.Time
	// MaxInline is the largest body kept in a record; larger bodies are
	// written as their own object and referenced by inputBodyS3Path or
	// outputBodyS3Path, as Bedrock does (default 100 KiB).
	MaxInline int
	// MaxBody truncates bodies beyond it (default 16 MiB).
	MaxBody int
	// RotateBytes and RotateEvery close an object when it holds that many
	// uncompressed bytes or is that old (defaults 8 MiB and 1 minute).
	RotateBytes int
	RotateEvery time.Duration
}

// Logger keeps the logging configuration and writes records.
type Logger struct {
	opts    Options
	enabled atomic.Bool
	mu      sync.Mutex // guards cfg
	cfg     *Config

	queue chan *Entry
	flush chan chan error
	done  chan struct{}
	wg    sync.WaitGroup

	closeOnce sync.Once
}

// queueLen bounds the records waiting to be written; beyond it records are
// dropped (and logged) rather than slowing requests.
const queueLen = 4096

// Open loads the saved configuration and starts the writer.
func Open(opts Options) (*Logger, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxInline <= 0 {
		opts.MaxInline = 100 << 10
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 16 << 20
	}
	if opts.RotateBytes <= 0 {
		opts.RotateBytes = 8 << 20
	}
	if opts.RotateEvery <= 0 {
		opts.RotateEvery = time.Minute
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("invocation logs: %w", err)
	}
	l := &Logger{opts: opts, queue: make(chan *Entry, queueLen), flush: make(chan chan error), done: make(chan struct{})}
	b, err := os.ReadFile(l.configPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("invocation logging config: %w", err)
	default:
		var c Config
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("invocation logging config: %w", err)
		}
		l.cfg = &c
		l.enabled.Store(true)
	}
	l.wg.Add(1)
	go l.run()
	return l, nil
}

func (l *Logger) configPath() string { return filepath.Join(l.opts.Dir, "config.json") }

// Enabled reports whether invocations are being logged; it is cheap
// enough for every request.
func (l *Logger) Enabled() bool { return l != nil && l.enabled.Load() }

// Config returns the configuration, or nil when logging is off.
func (l *Logger) Config(context.Context) (*Config, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg, nil
}

// PutConfig validates and saves c and turns logging on.
func (l *Logger) PutConfig(_ context.Context, c *Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tmp := l.configPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, l.configPath()); err != nil {
		return err
	}
	cp := *c
	l.cfg = &cp
	l.enabled.Store(true)
	return nil
}

// DeleteConfig turns logging off. Records already queued are still written.
func (l *Logger) DeleteConfig(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.Remove(l.configPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l.cfg = nil
	l.enabled.Store(false)
	return nil
}

// Record queues e for writing under the current configuration. It never
// blocks: when the queue is full the record is dropped and logged.
func (l *Logger) Record(e *Entry) {
	if !l.Enabled() {
		return
	}
	select {
	case l.queue <- e:
	default:
		l.opts.Logger.Warn("invocation log queue full; record dropped", "request_id", e.RequestID)
	}
}

// Flush writes every record queued so far and closes the open objects.
func (l *Logger) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	select {
	case l.flush <- ch:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return nil
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the writer.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	var err error
	l.closeOnce.Do(func() {
		err = l.Flush(context.Background())
		close(l.done)
		l.wg.Wait()
	})
	return err
}

// LocalKeeper returns a keeper over the 32-byte key in path, creating the
// key (mode 0600) on first use: the default, local form of envelope
// encryption.
func LocalKeeper(path string) (*secrets.Keeper, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var k [32]byte
		if k, err = localsecrets.NewRandomKey(); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, k[:], 0o600); err != nil {
			return nil, fmt.Errorf("invocation log key: %w", err)
		}
		key = k[:]
	} else if err != nil {
		return nil, fmt.Errorf("invocation log key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("invocation log key %s: want 32 bytes, have %d", path, len(key))
	}
	return localsecrets.NewKeeper([32]byte(key)), nil
}
