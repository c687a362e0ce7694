package kb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/kb"
)

// site is a small web site for the crawler: pages linking each other, a
// robots.txt, a page the robots forbid, a nofollow link, a link to
// another host, and a page that changes between crawls.
type site struct {
	mu     sync.Mutex
	pages  map[string]string // path → HTML body
	hits   []string
	robots string
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = append(s.hits, r.URL.Path)
	if !strings.HasPrefix(r.Header.Get("User-Agent"), "bedrockbot-outcrop") {
		http.Error(w, "no user agent", http.StatusForbidden)
		return
	}
	if r.URL.Path == "/robots.txt" {
		fmt.Fprint(w, s.robots)
		return
	}
	body, ok := s.pages[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".txt") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	fmt.Fprint(w, body)
}

func webDS(t *testing.T, e *env, k kb.KnowledgeBase, name string, cfg map[string]any) kb.DataSource {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"type": "WEB", "webConfiguration": cfg})
	ds, err := e.svc.CreateDataSource(context.Background(), kb.DataSource{KBID: k.ID, Name: name, Type: kb.TypeWeb, Config: raw,
		Chunking: kb.Chunking{Strategy: "NONE"}})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestWebCrawl(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the crawler left the seed's host: %s", r.URL)
	}))
	defer other.Close()
	s := &site{robots: "User-agent: *\nDisallow: /docs/private\nAllow: /docs/private/open.html\n", pages: map[string]string{
		"/docs/index.html": `<html><body><h1>Rocks</h1><p>Granite is an igneous rock.</p>
			<a href="basalt.html">basalt</a> <a href="/docs/notes.txt">notes</a> <a href="private/secret.html">secret</a>
			<a href="private/open.html">open</a> <a rel="nofollow" href="skip.html">skip</a> <a href="` + other.URL + `/x.html">away</a>
			<a href="/blog/post.html">blog</a> <a href="basalt.html#top">again</a></body></html>`,
		"/docs/basalt.html":         `<p>Basalt is a volcanic rock.</p><a href="index.html">home</a> <a href="deep.html">deep</a>`,
		"/docs/deep.html":           `<p>Obsidian is volcanic glass.</p>`,
		"/docs/notes.txt":           "Marble is metamorphosed limestone.",
		"/docs/private/secret.html": `<p>The secret rock.</p>`,
		"/docs/private/open.html":   `<p>Quartz is a mineral.</p>`,
		"/docs/skip.html":           `<p>Not followed.</p>`,
		"/blog/post.html":           `<p>Out of the seed's path.</p>`,
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()

	e := newEnv(t)
	k, _ := e.setup()
	ds := webDS(t, e, k, "web", map[string]any{
		"sourceConfiguration":  map[string]any{"urlConfiguration": map[string]any{"seedUrls": []any{map[string]any{"url": srv.URL + "/docs/index.html"}}}},
		"crawlerConfiguration": map[string]any{"crawlerLimits": map[string]any{"rateLimit": 300}, "exclusionFilters": []string{`deep\.html$`}},
	})
	j := e.sync(k, ds)
	if j.Status != kb.JobComplete {
		t.Fatalf("crawl: %s %v", j.Status, j.FailureReasons)
	}
	var docs []string
	for key := range e.chunkKeys(k.ID) {
		docs = append(docs, strings.TrimPrefix(strings.TrimSuffix(key, "#0"), srv.URL))
	}
	sort.Strings(docs)
	want := []string{"/docs/basalt.html", "/docs/index.html", "/docs/notes.txt", "/docs/private/open.html"}
	if diff := cmp.Diff(want, docs); diff != "" {
		t.Errorf("crawled pages (-want +got):\n%s", diff)
	}
	res, err := e.svc.Retrieve(context.Background(), kb.Query{KBID: k.ID, Text: "volcanic basalt rock"})
	if err != nil || len(res) == 0 || res[0].DocID != srv.URL+"/docs/basalt.html" {
		t.Errorf("retrieve: %+v %v", res, err)
	}

	// A page gone from the site is deleted on the next sync.
	s.mu.Lock()
	s.pages["/docs/index.html"] = strings.Replace(s.pages["/docs/index.html"], `<a href="/docs/notes.txt">notes</a>`, "", 1)
	s.mu.Unlock()
	j = e.sync(k, ds)
	if j.Status != kb.JobComplete || j.Stats.Deleted != 1 || j.Stats.ModifiedIndexed != 1 {
		t.Errorf("second crawl: %s %+v", j.Status, j.Stats)
	}

	// More pages in scope than maxPages fails the sync, as on Bedrock.
	small := webDS(t, e, k, "small", map[string]any{
		"sourceConfiguration":  map[string]any{"urlConfiguration": map[string]any{"seedUrls": []any{map[string]any{"url": srv.URL + "/docs/index.html"}}}},
		"crawlerConfiguration": map[string]any{"crawlerLimits": map[string]any{"rateLimit": 300, "maxPages": 2}},
	})
	if j := e.sync(k, small); j.Status != kb.JobFailed || !strings.Contains(strings.Join(j.FailureReasons, " "), "maxPages") {
		t.Errorf("maxPages 2: %s %v", j.Status, j.FailureReasons)
	}
}

func TestWebConfigValidation(t *testing.T) {
	e := newEnv(t)
	k, _ := e.setup()
	for _, cfg := range []string{
		`{"type":"WEB","webConfiguration":{}}`,
		`{"type":"WEB","webConfiguration":{"sourceConfiguration":{"urlConfiguration":{"seedUrls":[{"url":"ftp://x"}]}}}}`,
		`{"type":"WEB","webConfiguration":{"sourceConfiguration":{"urlConfiguration":{"seedUrls":[{"url":"https://x.test/"}]}},"crawlerConfiguration":{"crawlerLimits":{"rateLimit":301}}}}`,
		`{"type":"WEB","webConfiguration":{"sourceConfiguration":{"urlConfiguration":{"seedUrls":[{"url":"https://x.test/"}]}},"crawlerConfiguration":{"scope":"WORLD"}}}`,
		`{"type":"WEB","webConfiguration":{"sourceConfiguration":{"urlConfiguration":{"seedUrls":[{"url":"https://x.test/"}]}},"crawlerConfiguration":{"inclusionFilters":["("]}}}`,
	} {
		_, err := e.svc.CreateDataSource(context.Background(), kb.DataSource{KBID: k.ID, Name: "bad", Type: kb.TypeWeb, Config: json.RawMessage(cfg)})
		if err == nil {
			t.Errorf("CreateDataSource accepted %s", cfg)
		}
	}
}
