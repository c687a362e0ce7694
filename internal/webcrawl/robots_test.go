package webcrawl

import "testing"

func TestRobots(t *testing.T) {
	txt := `# comment
User-agent: otherbot
Disallow: /

User-agent: bedrockbot
User-agent: googlebot
Disallow: /private
Allow: /private/open
Disallow: /*.pdf$
Disallow: /tmp/*/cache

User-agent: *
Disallow: /everything
`
	r := parseRobots(txt, "bedrockbot-outcrop")
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/private", false},
		{"/private/x.html", false},
		{"/private/open/a.html", true},
		{"/a/b.pdf", false},
		{"/a/b.pdf?x=1", true},
		{"/tmp/1/cache/x", false},
		{"/tmp/cache", true},
		{"/everything", true}, // the bedrockbot group applies, not "*"
	} {
		if got := r.allows(tc.path); got != tc.want {
			t.Errorf("allows(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	star := parseRobots(txt, "somebot")
	if star.allows("/everything/x") || !star.allows("/private") {
		t.Errorf("the * group: /everything/x %v, /private %v", star.allows("/everything/x"), star.allows("/private"))
	}
	if none := parseRobots("", "x"); !none.allows("/anything") {
		t.Error("an empty robots.txt disallows")
	}
}
