package openaiimages

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

const testKey = "sk-images-5e1d"

// testPNG is a small real PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for x := range 4 {
		img.Set(x, 1, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upstream is a fake OpenAI Images server. It records request bodies and
// answers each with n images (or the status and body in fail).
type upstream struct {
	mu     sync.Mutex
	bodies []map[string]any
	auth   []string
	image  []byte
	status int
	fail   string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/images/generations" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var body map[string]any
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.bodies = append(u.bodies, body)
	u.auth = append(u.auth, r.Header.Get("Authorization"))
	u.mu.Unlock()
	if u.status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(u.status)
		io.WriteString(w, u.fail)
		return
	}
	n := int(body["n"].(float64))
	type datum struct {
		B64JSON       string `json:"b64_json"`
		RevisedPrompt string `json:"revised_prompt,omitempty"`
	}
	out := struct {
		Created int64   `json:"created"`
		Data    []datum `json:"data"`
	}{Created: 1700000000}
	for range n {
		out.Data = append(out.Data, datum{B64JSON: base64.StdEncoding.EncodeToString(u.image), RevisedPrompt: "a revised prompt"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func newAdapter(t *testing.T, url string, extra map[string]any) *Adapter {
	t.Helper()
	cfg := map[string]any{"baseURL": url + "/v1", "apiKey": testKey, "maxRetries": 0, "timeout": "5s"}
	for k, v := range extra {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	a, err := New(raw, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func seed(v int64) *int64 { return &v }

func TestGenerate(t *testing.T) {
	pngData := testPNG(t)
	tests := []struct {
		name       string
		extra      map[string]any
		req        provider.ImageRequest
		wantBodies []map[string]any
		wantFormat string
	}{
		{
			name: "titan-like",
			req: provider.ImageRequest{Model: "dall-e-3", Prompt: "a lighthouse", NegativePrompt: "people", Count: 1, Width: 1024, Height: 1024,
				Seed: seed(42), Quality: "high", Style: "PHOTOREALISM", Format: "png"},
			wantBodies: []map[string]any{{"model": "dall-e-3", "prompt": "a lighthouse\n\nAvoid: people", "n": 1.0, "size": "1024x1024",
				"quality": "hd", "response_format": "b64_json"}},
			wantFormat: "png",
		},
		{
			name:  "split and negative field",
			extra: map[string]any{"maxImagesPerRequest": 2, "negativePrompt": "field", "quality": map[string]string{}},
			req:   provider.ImageRequest{Model: "sd", Prompt: "a fox", NegativePrompt: "blur", Count: 5, Quality: "high", Style: "natural"},
			wantBodies: []map[string]any{
				{"model": "sd", "prompt": "a fox", "negative_prompt": "blur", "n": 2.0, "style": "natural", "response_format": "b64_json"},
				{"model": "sd", "prompt": "a fox", "negative_prompt": "blur", "n": 2.0, "style": "natural", "response_format": "b64_json"},
				{"model": "sd", "prompt": "a fox", "negative_prompt": "blur", "n": 1.0, "style": "natural", "response_format": "b64_json"},
			},
			wantFormat: "png",
		},
		{
			name:       "jpeg transcoded, negative omitted",
			extra:      map[string]any{"negativePrompt": "omit"},
			req:        provider.ImageRequest{Model: "sd", Prompt: "a cat", NegativePrompt: "dogs", Count: 1, Width: 1344, Height: 768, Format: "jpeg"},
			wantBodies: []map[string]any{{"model": "sd", "prompt": "a cat", "n": 1.0, "size": "1344x768", "response_format": "b64_json"}},
			wantFormat: "jpeg",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &upstream{image: pngData}
			hs := httptest.NewServer(u)
			defer hs.Close()
			a := newAdapter(t, hs.URL, tt.extra)
			resp, err := a.GenerateImages(context.Background(), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantBodies, u.bodies); diff != "" {
				t.Errorf("upstream bodies (-want +got):\n%s", diff)
			}
			if u.auth[0] != "Bearer "+testKey {
				t.Errorf("Authorization = %q", u.auth[0])
			}
			if len(resp.Images) != max(tt.req.Count, 1) || resp.RevisedPrompt != "a revised prompt" {
				t.Fatalf("response: %d images, revised %q", len(resp.Images), resp.RevisedPrompt)
			}
			for i, im := range resp.Images {
				if im.Format != tt.wantFormat {
					t.Errorf("image %d format %q, want %q", i, im.Format, tt.wantFormat)
				}
				var err error
				if tt.wantFormat == "jpeg" {
					_, err = jpeg.Decode(bytes.NewReader(im.Data))
				} else {
					_, err = png.Decode(bytes.NewReader(im.Data))
				}
				if err != nil {
					t.Errorf("image %d does not decode as %s: %v", i, tt.wantFormat, err)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		kind   fault.Kind
		msg    string
	}{
		{"throttled", 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, fault.Throttled,
			"The openai-images backend is throttling requests (HTTP 429, rate_limit_exceeded). Try again later."},
		{"content policy", 400, `{"error":{"message":"Your request was rejected","type":"invalid_request_error","code":"content_policy_violation"}}`, fault.Invalid,
			"The openai-images backend rejected the request as invalid (HTTP 400, content_policy_violation)."},
		{"bad key", 401, `{"error":{"message":"Incorrect API key provided: ` + testKey + `","type":"invalid_request_error","code":"invalid_api_key"}}`, fault.Unavailable,
			"The openai-images backend refused Outcrop's credentials (HTTP 401, invalid_api_key). An operator must check the backend's API key configuration."},
		{"server error", 500, `{"error":{"message":"boom","type":"server_error"}}`, fault.ModelFailed,
			"The openai-images backend failed (HTTP 500, server_error)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(&upstream{status: tt.status, fail: tt.body})
			defer hs.Close()
			_, err := newAdapter(t, hs.URL, nil).GenerateImages(context.Background(), &provider.ImageRequest{Prompt: "x", Count: 1})
			if k := fault.KindOf(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (err %v)", k, tt.kind, err)
			}
			if got := fault.Message(err); got != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", got, tt.msg)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestBadUpstreamAnswers(t *testing.T) {
	for _, tt := range []struct{ name, body string }{
		{"not an image", `{"created":1,"data":[{"b64_json":"aGVsbG8="}]}`},
		{"url only", `{"created":1,"data":[{"url":"https://example.com/a.png"}]}`},
		{"too few", `{"created":1,"data":[]}`},
		{"not json", `<html>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.body) }))
			defer hs.Close()
			_, err := newAdapter(t, hs.URL, nil).GenerateImages(context.Background(), &provider.ImageRequest{Prompt: "x", Count: 1})
			if k := fault.KindOf(err); k != fault.ModelFailed {
				t.Errorf("kind = %v, want ModelFailed (err %v)", k, err)
			}
		})
	}
}

func TestUnconfigured(t *testing.T) {
	a, err := New(nil, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.GenerateImages(context.Background(), &provider.ImageRequest{Prompt: "x", Count: 1})
	if k := fault.KindOf(err); k != fault.Unavailable || !strings.Contains(fault.Message(err), "config.baseURL") {
		t.Errorf("unconfigured: %v (kind %v)", err, k)
	}
	if _, err := a.Converse(context.Background(), &provider.Request{}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("Converse: %v, want Invalid", err)
	}
}

func TestConfig(t *testing.T) {
	for _, raw := range []string{`{"negativePrompt":"drop"}`, `{"maxImagesPerRequest":-1}`, `{"baseURL":"ftp://x"}`, `{"nope":1}`} {
		if _, err := New(json.RawMessage(raw), provider.Env{}); err == nil {
			t.Errorf("New(%s): nil error", raw)
		}
	}
}
