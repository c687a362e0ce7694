// Package webcrawl fetches the pages of knowledge-base WEB data sources:
// breadth-first from the seed URLs, within the configured scope, obeying
// robots.txt, at most RateLimit pages a minute per host, at most MaxPages
// pages (more fails the sync, as on Bedrock) and at most MaxDepth links
// from a seed.
package webcrawl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"

	"github.com/outcrop/outcrop/internal/kb"
)

// Limits.
const (
	MaxDepth     = 8        // links followed from a seed
	MaxPageBytes = 10 << 20 // a larger page is skipped
)

// Crawler is a kb.Crawler over HTTP.
type Crawler struct {
	client *http.Client
}

// New returns a Crawler; a nil client is one with a 30-second timeout.
func New(client *http.Client) *Crawler {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Crawler{client: client}
}

var _ kb.Crawler = (*Crawler)(nil)

// crawler is one crawl's state.
type crawler struct {
	cfg    kb.WebConfig
	client *http.Client
	robots map[string]*robots   // by scheme://host
	last   map[string]time.Time // last request per host
	sleep  func(context.Context, time.Duration) error
	now    func() time.Time
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Crawl fetches the pages of cfg. It fails when more than MaxPages pages
// are in scope.
func (c *Crawler) Crawl(ctx context.Context, cfg kb.WebConfig) ([]kb.Page, error) {
	cr := &crawler{cfg: cfg, client: c.client, robots: map[string]*robots{}, last: map[string]time.Time{},
		sleep: sleepCtx, now: time.Now}
	type item struct {
		u     *url.URL
		depth int
		seed  *url.URL
	}
	var queue []item
	seen := map[string]bool{}
	for _, u := range cfg.Seeds {
		if !seen[u.String()] {
			seen[u.String()] = true
			queue = append(queue, item{u, 0, u})
		}
	}
	var pages []kb.Page
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if !cr.allowed(ctx, it.u) {
			continue
		}
		p, links, err := cr.fetch(ctx, it.u)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue // an unreachable page is skipped, as a crawler does
		}
		if p != nil && cr.wanted(it.u) {
			if len(pages) == cfg.MaxPages {
				return nil, fmt.Errorf("the crawl found more than maxPages (%d) pages in scope; raise crawlerLimits.maxPages or narrow the filters", cfg.MaxPages)
			}
			pages = append(pages, *p)
		}
		if it.depth == MaxDepth {
			continue
		}
		for _, l := range links {
			k := l.String()
			if seen[k] || !inScope(cfg.Scope, it.seed, l) || excluded(cfg.Exclude, k) {
				continue
			}
			seen[k] = true
			queue = append(queue, item{l, it.depth + 1, it.seed})
		}
	}
	return pages, nil
}

// wanted reports whether a page in scope is indexed: it matches an
// inclusion filter (when there are any) and no exclusion filter.
func (c *crawler) wanted(u *url.URL) bool {
	s := u.String()
	if excluded(c.cfg.Exclude, s) {
		return false
	}
	if len(c.cfg.Include) == 0 {
		return true
	}
	for _, re := range c.cfg.Include {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func excluded(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// inScope applies the crawl scope relative to the seed a link was found
// from: by default the seed's host and path prefix, HOST_ONLY the seed's
// host, SUBDOMAINS the seed's registrable domain and its subdomains.
func inScope(scope string, seed, u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	switch scope {
	case "HOST_ONLY":
		return u.Host == seed.Host
	case "SUBDOMAINS":
		d, err := publicsuffix.EffectiveTLDPlusOne(seed.Hostname())
		if err != nil {
			d = seed.Hostname()
		}
		h := u.Hostname()
		return h == d || strings.HasSuffix(h, "."+d)
	}
	prefix := seed.Path
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		prefix = prefix[:i+1]
	}
	return u.Host == seed.Host && strings.HasPrefix(u.Path, prefix)
}

// wait keeps to the rate limit of u's host.
func (c *crawler) wait(ctx context.Context, host string) error {
	gap := time.Minute / time.Duration(c.cfg.RateLimit)
	if last, ok := c.last[host]; ok {
		if err := c.sleep(ctx, gap-c.now().Sub(last)); err != nil {
			return err
		}
	}
	c.last[host] = c.now()
	return nil
}

func (c *crawler) get(ctx context.Context, u *url.URL) (*http.Response, error) {
	if err := c.wait(ctx, u.Host); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	return c.client.Do(req)
}

// allowed consults the host's robots.txt (fetched once per crawl).
func (c *crawler) allowed(ctx context.Context, u *url.URL) bool {
	origin := u.Scheme + "://" + u.Host
	r, ok := c.robots[origin]
	if !ok {
		r = &robots{}
		ru := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/robots.txt"}
		if resp, err := c.get(ctx, ru); err == nil {
			if resp.StatusCode == http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512<<10))
				r = parseRobots(string(b), c.cfg.UserAgent)
			}
			resp.Body.Close()
		}
		c.robots[origin] = r
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return r.allows(p)
}

// fetch gets a page and the links in it (for HTML). A page of a type the
// parser cannot read is skipped (nil page).
func (c *crawler) fetch(ctx context.Context, u *url.URL) (*kb.Page, []*url.URL, error) {
	resp, err := c.get(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPageBytes+1))
	if err != nil || len(body) > MaxPageBytes {
		return nil, nil, fmt.Errorf("%s: page unreadable or larger than %d bytes", u, MaxPageBytes)
	}
	final := resp.Request.URL // after redirects
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var ext string
	switch mt {
	case "text/html", "application/xhtml+xml":
		ext = ".html"
	case "text/plain":
		ext = ".txt"
	case "text/markdown":
		ext = ".md"
	case "text/csv":
		ext = ".csv"
	case "application/json":
		ext = ".json"
	case "application/pdf":
		ext = ".pdf"
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
		ext = ".docx"
	default:
		if e := path.Ext(final.Path); e == ".md" || e == ".txt" || e == ".csv" {
			ext = e
		} else {
			return nil, nil, nil
		}
	}
	p := &kb.Page{URL: u.String(), Body: body, Ext: ext}
	if ext != ".html" {
		return p, nil, nil
	}
	return p, links(final, body), nil
}

// links returns the absolute http(s) links of an HTML page, without
// fragments, in document order, those marked rel=nofollow left out.
func links(base *url.URL, body []byte) []*url.URL {
	var out []*url.URL
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if string(name) != "a" || !hasAttr {
			continue
		}
		var href string
		nofollow := false
		for {
			k, v, more := z.TagAttr()
			switch string(k) {
			case "href":
				href = string(v)
			case "rel":
				nofollow = strings.Contains(string(v), "nofollow")
			}
			if !more {
				break
			}
		}
		if href == "" || nofollow {
			continue
		}
		u, err := base.Parse(href)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		u.Fragment = ""
		out = append(out, u)
	}
}

// robots holds the rules of the robots.txt group that applies to the
// crawler.
type robots struct {
	rules []robotsRule
}

type robotsRule struct {
	allow bool
	path  string
}

// parseRobots reads the rules of the group for the crawler's user agent
// (a group naming a token the agent contains, such as bedrockbot), else of the
// "*" group; records of several groups for the same agents are merged.
func parseRobots(text, agent string) *robots {
	agent = strings.ToLower(agent)
	type group struct {
		agents []string
		rules  []robotsRule
	}
	var groups []*group
	var g *group
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "user-agent":
			if g == nil || len(g.rules) > 0 {
				g = &group{}
				groups = append(groups, g)
			}
			g.agents = append(g.agents, strings.ToLower(v))
		case "allow", "disallow":
			if g != nil && v != "" { // "Disallow:" with no path allows everything
				g.rules = append(g.rules, robotsRule{allow: k == "allow", path: v})
			}
		}
	}
	var mine, star []robotsRule
	for _, g := range groups {
		for _, a := range g.agents {
			switch {
			case a == "*":
				star = append(star, g.rules...)
			case a != "" && strings.Contains(agent, a):
				mine = append(mine, g.rules...)
			}
		}
	}
	if mine != nil {
		return &robots{rules: mine}
	}
	return &robots{rules: star}
}

// allows applies the longest matching rule; Allow wins a tie; no rule
// allows.
func (r *robots) allows(p string) bool {
	best, allow := -1, true
	for _, rule := range r.rules {
		if n := len(rule.path); robotsMatch(rule.path, p) && (n > best || n == best && rule.allow) {
			best, allow = n, rule.allow
		}
	}
	return allow
}

// robotsMatch matches a robots.txt path pattern ('*' any run, '$' end) at
// the start of p.
func robotsMatch(pat, p string) bool {
	if pat == "" {
		return true
	}
	if pat == "$" {
		return p == ""
	}
	switch pat[0] {
	case '*':
		for i := 0; i <= len(p); i++ {
			if robotsMatch(pat[1:], p[i:]) {
				return true
			}
		}
		return false
	default:
		return p != "" && p[0] == pat[0] && robotsMatch(pat[1:], p[1:])
	}
}
