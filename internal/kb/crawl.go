package kb

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
)

// Web crawling (data sources of type WEB): the configuration is read and
// checked here; an injected Crawler (package webcrawl) fetches the pages.

// TypeWeb is the web crawler data source type.
const TypeWeb = "WEB"

// Crawler defaults.
const (
	crawlDefaultRate = 300   // pages a minute per host (Bedrock's maximum)
	crawlDefaultMax  = 25000 // Bedrock's page limit
	// CrawlUserAgent is the crawler's user agent; a configured userAgent
	// is appended to it.
	CrawlUserAgent = "bedrockbot-outcrop"
)

// Page is a crawled page: its URL, its bytes and the parser extension its
// content type calls for (.html, .txt, .md, .csv, .json, .pdf, .docx).
type Page struct {
	URL  string
	Body []byte
	Ext  string
}

// Crawler fetches the pages a WEB data source's configuration names. It
// fails when more than MaxPages pages are in scope.
type Crawler interface {
	Crawl(ctx context.Context, cfg WebConfig) ([]Page, error)
}

// WebConfig is a WEB data source's crawler configuration.
type WebConfig struct {
	Seeds     []*url.URL
	Scope     string // "" (same host and path prefix as the seed), HOST_ONLY or SUBDOMAINS
	RateLimit int    // pages a minute per host
	MaxPages  int
	Include   []*regexp.Regexp
	Exclude   []*regexp.Regexp
	UserAgent string
}

// ParseWebConfig reads dataSourceConfiguration.webConfiguration, with
// Bedrock's limits.
func ParseWebConfig(raw json.RawMessage) (WebConfig, error) {
	var c struct {
		Web *struct {
			Source *struct {
				URL *struct {
					Seeds []struct {
						URL string `json:"url"`
					} `json:"seedUrls"`
				} `json:"urlConfiguration"`
			} `json:"sourceConfiguration"`
			Crawler *struct {
				Limits *struct {
					RateLimit *int `json:"rateLimit"`
					MaxPages  *int `json:"maxPages"`
				} `json:"crawlerLimits"`
				Include   []string `json:"inclusionFilters"`
				Exclude   []string `json:"exclusionFilters"`
				Scope     string   `json:"scope"`
				UserAgent string   `json:"userAgent"`
			} `json:"crawlerConfiguration"`
		} `json:"webConfiguration"`
	}
	out := WebConfig{RateLimit: crawlDefaultRate, MaxPages: crawlDefaultMax, UserAgent: CrawlUserAgent}
	if err := json.Unmarshal(raw, &c); err != nil {
		return out, invalidf("dataSourceConfiguration is not valid: %v", err)
	}
	if c.Web == nil || c.Web.Source == nil || c.Web.Source.URL == nil || len(c.Web.Source.URL.Seeds) == 0 {
		return out, invalidf("A WEB data source needs webConfiguration.sourceConfiguration.urlConfiguration.seedUrls.")
	}
	if n := len(c.Web.Source.URL.Seeds); n > 100 {
		return out, invalidf("Value at 'seedUrls' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	for _, s := range c.Web.Source.URL.Seeds {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return out, invalidf("Seed URL %q must be an http:// or https:// URL.", s.URL)
		}
		u.Fragment = ""
		out.Seeds = append(out.Seeds, u)
	}
	if cr := c.Web.Crawler; cr != nil {
		switch cr.Scope {
		case "", "HOST_ONLY", "SUBDOMAINS":
			out.Scope = cr.Scope
		default:
			return out, invalidf("Value '%s' at 'crawlerConfiguration.scope' failed to satisfy constraint: Member must satisfy enum value set: [HOST_ONLY, SUBDOMAINS]", cr.Scope)
		}
		if l := cr.Limits; l != nil {
			if l.RateLimit != nil {
				if *l.RateLimit < 1 || *l.RateLimit > 300 {
					return out, invalidf("Value '%d' at 'crawlerLimits.rateLimit' failed to satisfy constraint: Member must have value between 1 and 300", *l.RateLimit)
				}
				out.RateLimit = *l.RateLimit
			}
			if l.MaxPages != nil {
				if *l.MaxPages < 1 {
					return out, invalidf("Value '%d' at 'crawlerLimits.maxPages' failed to satisfy constraint: Member must have value greater than or equal to 1", *l.MaxPages)
				}
				out.MaxPages = *l.MaxPages
			}
		}
		for _, f := range []struct {
			name string
			in   []string
			out  *[]*regexp.Regexp
		}{{"inclusionFilters", cr.Include, &out.Include}, {"exclusionFilters", cr.Exclude, &out.Exclude}} {
			if len(f.in) > 25 {
				return out, invalidf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to 25", f.name)
			}
			for _, p := range f.in {
				re, err := regexp.Compile(p)
				if err != nil {
					return out, invalidf("The %s pattern %q is not a valid regular expression: %v", f.name, p, err)
				}
				*f.out = append(*f.out, re)
			}
		}
		if cr.UserAgent != "" {
			out.UserAgent = CrawlUserAgent + "-" + cr.UserAgent
		}
	}
	return out, nil
}
