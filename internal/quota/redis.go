package quota

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStore keeps buckets in Redis, so that every replica pointed at the
// same Redis shares them. Each bucket is a hash {l: level, t: last refill
// in Unix milliseconds}; a Lua script refills, checks and charges all the
// buckets of one admission atomically. Buckets expire two minutes after
// their last use: by then they are full again, which is what a missing
// bucket means.
type redisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns a Store in the Redis at url (redis://[user:pass@]
// host:port/db or rediss:// for TLS). Keys are prefixed with prefix.
func NewRedisStore(url, prefix string) (Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("quota store: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	opt.MaxRetries = 1
	return &redisStore{c: redis.NewClient(opt), prefix: prefix}, nil
}

// Ping checks that the store answers.
func Ping(ctx context.Context, s Store) error {
	if r, ok := s.(*redisStore); ok {
		return r.c.Ping(ctx).Err()
	}
	return nil
}

// Close releases a store's connections.
func Close(s Store) error {
	if r, ok := s.(*redisStore); ok {
		return r.c.Close()
	}
	return nil
}

// refillLua is shared by both scripts: it loads bucket i (1-based) of
// KEYS, refilled to now at its rate up to its burst. A clock behind the
// bucket's last refill (another replica's) refills nothing.
const refillLua = `
local function level(i, now, burst, rate)
  local st = redis.call('HMGET', KEYS[i], 'l', 't')
  if not st[1] then return burst, now end
  local l, t = tonumber(st[1]), tonumber(st[2])
  if now > t then
    l = math.min(burst, l + (now - t) / 1000 * rate)
    t = now
  end
  return l, t
end
local function store(i, l, t)
  redis.call('HSET', KEYS[i], 'l', string.format('%.17g', l), 't', string.format('%.17g', t))
  redis.call('PEXPIRE', KEYS[i], 120000)
end
`

// takeScript: ARGV = now, then burst, rate, need, charge per key.
var takeScript = redis.NewScript(refillLua + `
local now = tonumber(ARGV[1])
local ls, ts = {}, {}
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 4
  ls[i], ts[i] = level(i, now, tonumber(ARGV[a]), tonumber(ARGV[a + 1]))
  if ls[i] < tonumber(ARGV[a + 2]) then return i end
end
for i = 1, #KEYS do
  store(i, ls[i] - tonumber(ARGV[1 + i * 4]), ts[i])
end
return 0
`)

// adjustScript: ARGV = now, diff, then burst, rate per key.
var adjustScript = redis.NewScript(refillLua + `
local now, diff = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #KEYS do
  local a = 3 + (i - 1) * 2
  local burst = tonumber(ARGV[a])
  local l, t = level(i, now, burst, tonumber(ARGV[a + 1]))
  store(i, math.min(burst, l - diff), t)
end
return 0
`)

func f64(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func (r *redisStore) keys(bs []Bucket) []string {
	keys := make([]string, len(bs))
	for i, b := range bs {
		keys[i] = r.prefix + b.Key
	}
	return keys
}

func (r *redisStore) Take(ctx context.Context, now time.Time, bs []Bucket) (int, error) {
	args := make([]any, 0, 1+4*len(bs))
	args = append(args, now.UnixMilli())
	for _, b := range bs {
		args = append(args, f64(b.Burst), f64(b.Rate), f64(b.Need), f64(b.Charge))
	}
	n, err := takeScript.Run(ctx, r.c, r.keys(bs), args...).Int()
	if err != nil {
		return 0, fmt.Errorf("quota store: %w", err)
	}
	return n - 1, nil
}

func (r *redisStore) Adjust(ctx context.Context, now time.Time, bs []Bucket, diff float64) error {
	args := make([]any, 0, 2+2*len(bs))
	args = append(args, now.UnixMilli(), f64(diff))
	for _, b := range bs {
		args = append(args, f64(b.Burst), f64(b.Rate))
	}
	if err := adjustScript.Run(ctx, r.c, r.keys(bs), args...).Err(); err != nil {
		return fmt.Errorf("quota store: %w", err)
	}
	return nil
}
