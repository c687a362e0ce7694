package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
)

// Image generation end to end: the AWS SDK's InvokeModel with Titan and
// Stability bodies, and openai-go's Images.Generate, against a real server
// whose image models are served by the openai-images backend talking to a
// fake upstream that speaks OpenAI's Images API.

const (
	titanV1   = "amazon.titan-image-generator-v1"
	titanV2   = "amazon.titan-image-generator-v2:0"
	sdxl      = "stability.stable-diffusion-xl-v1"
	imageCore = "stability.stable-image-core-v1:1"
	sd35Large = "stability.sd3-5-large-v1:0"
)

// imagesUpstream is a fake OpenAI Images server (POST /v1/images/generations).
// It answers with n copies of a real PNG, or with status and an OpenAI
// error object when status is set.
type imagesUpstream struct {
	png    []byte
	mu     sync.Mutex
	bodies []map[string]any
	status int
}

func (u *imagesUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/images/generations" || r.Header.Get("Authorization") != "Bearer sk-upstream" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"message":"Invalid URL","type":"invalid_request_error","param":null,"code":null}}`)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.bodies = append(u.bodies, body)
	status := u.status
	u.mu.Unlock()
	if body["prompt"] == "fail:throttled" {
		status = http.StatusTooManyRequests
	}
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"message":"Rate limit exceeded for images per minute.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		return
	}
	n, _ := body["n"].(float64)
	data := make([]map[string]string, int(n))
	for i := range data {
		data[i] = map[string]string{"b64_json": base64.StdEncoding.EncodeToString(u.png), "revised_prompt": "revised: " + body["prompt"].(string)}
	}
	json.NewEncoder(w).Encode(map[string]any{"created": 1713833628, "data": data})
}

func (u *imagesUpstream) last() map[string]any {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bodies[len(u.bodies)-1]
}

func (u *imagesUpstream) setStatus(s int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status = s
}

// smallPNG makes a real 8x8 PNG.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.NRGBA{R: 255, G: 128, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// imageModels returns the default catalog's image models.
func imageModels(t *testing.T) []catalog.Model {
	t.Helper()
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	var ms []catalog.Model
	for _, m := range def.Models {
		if m.Image() {
			m.BackendModel = "test-image-model"
			ms = append(ms, m)
		}
	}
	return ms
}

// newImageServer starts a server with the default image models; up, when
// not nil, is the images backend's upstream. now, if set, is the clock,
// and then any credentials are accepted (for golden files).
func newImageServer(t *testing.T, up *imagesUpstream, now ...func() time.Time) (*outcroptest.Server, string) {
	t.Helper()
	models := append(imageModels(t), outcroptest.EchoModels...)
	o := outcroptest.Options{Families: familyall.Families, Models: models}
	if len(now) > 0 {
		o.Now = now[0]
	}
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: o.Families, Models: o.Models, Now: o.Now,
		Mutate: func(c *config.Config) {
			if o.Now != nil {
				c.Auth.Mode = "any"
			}
			if up == nil {
				return
			}
			hs := httptest.NewServer(up)
			t.Cleanup(hs.Close)
			c.Backends["images"] = config.Backend{Kind: "openai-images", Config: map[string]any{
				"baseURL": hs.URL + "/v1", "apiKey": "sk-upstream", "maxRetries": 0, "timeout": "10s",
			}}
		},
	})
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, token
}

func decodeImage(t *testing.T, b64, format string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("image is not base64: %v", err)
	}
	if format == "jpeg" {
		_, err = jpeg.Decode(bytes.NewReader(raw))
	} else {
		_, err = png.Decode(bytes.NewReader(raw))
	}
	if err != nil {
		t.Errorf("image does not decode as %s: %v", format, err)
	}
}

func TestInvokeModelImages(t *testing.T) {
	up := &imagesUpstream{png: smallPNG(t)}
	srv, _ := newImageServer(t, up)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	invoke := func(t *testing.T, model, body string) map[string]any {
		t.Helper()
		out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(body),
			ContentType: aws.String("application/json"), Accept: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out.Body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	upstreamWant := func(t *testing.T, want map[string]any) {
		t.Helper()
		if diff := cmp.Diff(want, up.last()); diff != "" {
			t.Errorf("upstream request (-want +got):\n%s", diff)
		}
	}

	t.Run("titan v2", func(t *testing.T) {
		// The body of the AWS documentation's Titan Image Generator example.
		m := invoke(t, titanV2, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"A stylized picture of a cute old steampunk robot."},
			"imageGenerationConfig":{"numberOfImages":1,"quality":"standard","cfgScale":8.0,"height":512,"width":512,"seed":42}}`)
		images := m["images"].([]any)
		if len(images) != 1 || m["error"] != nil {
			t.Fatalf("response %v", m)
		}
		decodeImage(t, images[0].(string), "png")
		upstreamWant(t, map[string]any{"model": "test-image-model", "prompt": "A stylized picture of a cute old steampunk robot.", "n": 1.0,
			"size": "512x512", "quality": "standard", "response_format": "b64_json"})
	})
	t.Run("titan v1 three images", func(t *testing.T) {
		m := invoke(t, titanV1, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse","negativeText":"people"},
			"imageGenerationConfig":{"numberOfImages":3,"quality":"premium"}}`)
		images := m["images"].([]any)
		if len(images) != 3 {
			t.Fatalf("%d images, want 3", len(images))
		}
		for _, im := range images {
			decodeImage(t, im.(string), "png")
		}
		upstreamWant(t, map[string]any{"model": "test-image-model", "prompt": "a lighthouse\n\nAvoid: people", "n": 3.0,
			"size": "1024x1024", "quality": "hd", "response_format": "b64_json"})
	})
	t.Run("sdxl", func(t *testing.T) {
		m := invoke(t, sdxl, `{"text_prompts":[{"text":"A stylized picture of a cute old steampunk robot.","weight":1},{"text":"blurry","weight":-1}],
			"cfg_scale":10,"seed":20,"steps":50,"width":1344,"height":768}`)
		arts := m["artifacts"].([]any)
		if m["result"] != "success" || len(arts) != 1 {
			t.Fatalf("response %v", m)
		}
		a := arts[0].(map[string]any)
		if a["seed"] != 20.0 || a["finishReason"] != "SUCCESS" {
			t.Errorf("artifact seed %v finishReason %v", a["seed"], a["finishReason"])
		}
		decodeImage(t, a["base64"].(string), "png")
		if up.last()["size"] != "1344x768" {
			t.Errorf("upstream size %v", up.last()["size"])
		}
	})
	t.Run("stable image core jpeg", func(t *testing.T) {
		m := invoke(t, imageCore, `{"prompt":"a cat in a hat","negative_prompt":"dogs","seed":5,"output_format":"jpeg"}`)
		images := m["images"].([]any)
		if len(images) != 1 || m["seeds"].([]any)[0] != 5.0 || m["finish_reasons"].([]any)[0] != nil {
			t.Fatalf("response %v", m)
		}
		decodeImage(t, images[0].(string), "jpeg")
	})
	t.Run("sd3.5 aspect ratio", func(t *testing.T) {
		m := invoke(t, sd35Large, `{"prompt":"a red barn","aspect_ratio":"16:9","mode":"text-to-image"}`)
		decodeImage(t, m["images"].([]any)[0].(string), "png")
		if up.last()["size"] != "1344x768" {
			t.Errorf("upstream size %v, want 1344x768", up.last()["size"])
		}
	})
	t.Run("sdxl stream", func(t *testing.T) {
		// Stability's pages document InvokeModelWithResponseStream: the
		// whole body arrives in one chunk with the invocation metrics.
		out, err := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(sdxl),
			Body: []byte(`{"text_prompts":[{"text":"a lighthouse"}],"seed":9}`)})
		if err != nil {
			t.Fatal(err)
		}
		st := out.GetStream()
		defer st.Close()
		var chunks [][]byte
		for ev := range st.Events() {
			chunks = append(chunks, ev.(*rt.ResponseStreamMemberChunk).Value.Bytes)
		}
		if err := st.Err(); err != nil || len(chunks) != 1 {
			t.Fatalf("%d chunks, err %v", len(chunks), err)
		}
		var m struct {
			Result    string `json:"result"`
			Artifacts []struct {
				Seed   int64  `json:"seed"`
				Base64 string `json:"base64"`
			} `json:"artifacts"`
			Metrics *struct {
				InputTokenCount int `json:"inputTokenCount"`
			} `json:"amazon-bedrock-invocationMetrics"`
		}
		if err := json.Unmarshal(chunks[0], &m); err != nil || m.Result != "success" || len(m.Artifacts) != 1 || m.Artifacts[0].Seed != 9 || m.Metrics == nil {
			t.Fatalf("chunk %.200s: %v", chunks[0], err)
		}
		decodeImage(t, m.Artifacts[0].Base64, "png")
	})
	// Usage accounting counts the images and prices them per image
	// (default prices: Titan v1 $0.01 an image).
	t.Run("usage", func(t *testing.T) {
		if err := srv.Srv.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(ctx, srv.Config.DataDir+"/outcrop.db")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		rows, err := st.Usage(ctx, usage.Filter{Model: titanV1})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Requests != 1 || rows[0].Images != 3 || rows[0].CostMicros != 30000 {
			t.Errorf("usage rows for %s = %+v, want 1 request, 3 images, 30000 micro-dollars", titanV1, rows)
		}
		metrics := scrape(t, srv.URL)
		for _, want := range []string{
			`outcrop_model_output_images_total{model_id="` + titanV1 + `"} 3`,
			`outcrop_model_invocations_total{model_id="` + titanV1 + `",outcome="success"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestInvokeModelImageErrors(t *testing.T) {
	up := &imagesUpstream{png: smallPNG(t)}
	srv, _ := newImageServer(t, up)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	invoke := func(model, body string) error {
		_, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(body)})
		return err
	}
	tests := []struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
		wantMsg    string
	}{
		{"too many images", invoke(titanV2, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":6}}`),
			"ValidationException", 400, "Malformed input request: #/imageGenerationConfig/numberOfImages: 6 is not less or equal to 5, please reformat your input and try again."},
		{"bad size", invoke(titanV1, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"width":100,"height":100}}`),
			"ValidationException", 400, ""},
		{"stability body to titan", invoke(titanV2, `{"text_prompts":[{"text":"x"}]}`), "ValidationException", 400, ""},
		{"sdxl steps", invoke(sdxl, `{"text_prompts":[{"text":"x"}],"steps":500}`),
			"ValidationException", 400, "Malformed input request: #/steps: 500 is not less or equal to 50, please reformat your input and try again."},
		{"core not JSON", invoke(imageCore, `prompt=x`), "ValidationException", 400, "Malformed input request, please reformat your input and try again."},
	}
	_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(titanV2), Messages: userText("draw")})
	tests = append(tests, struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
		wantMsg    string
	}{"converse", err, "ValidationException", 400, ""})
	_, err = c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(titanV2),
		Body: []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`)})
	tests = append(tests, struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
		wantMsg    string
	}{"stream", err, "ValidationException", 400, "The model is unsupported for streaming."})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status := apiError(t, tt.err)
			if code != tt.wantCode || status != tt.wantStatus {
				t.Errorf("got %s %d, want %s %d (%v)", code, status, tt.wantCode, tt.wantStatus, tt.err)
			}
			var ae smithy.APIError
			errors.As(tt.err, &ae)
			if tt.wantMsg != "" && ae.ErrorMessage() != tt.wantMsg {
				t.Errorf("message = %q, want %q", ae.ErrorMessage(), tt.wantMsg)
			}
		})
	}

	t.Run("upstream 429", func(t *testing.T) {
		up.setStatus(http.StatusTooManyRequests)
		defer up.setStatus(0)
		err := invoke(titanV2, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`)
		var te *rt.ThrottlingException
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want ThrottlingException", err)
		}
		if code, status := apiError(t, err); status != 429 {
			t.Errorf("got %s %d, want 429", code, status)
		}
		if strings.Contains(err.Error(), "sk-upstream") {
			t.Errorf("error leaks the upstream key: %v", err)
		}
	})
}

// Without a baseURL for the images backend, invoking an image model says
// what to configure.
func TestImagesUnconfigured(t *testing.T) {
	srv, key := newImageServer(t, nil)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	_, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(titanV2),
		Body: []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`)})
	var se *rt.ServiceUnavailableException
	if !errors.As(err, &se) || !strings.Contains(se.ErrorMessage(), "config.baseURL") {
		t.Errorf("err = %v, want ServiceUnavailableException naming config.baseURL", err)
	}
	oc := openAIClient(srv.URL, key)
	_, err = oc.Images.Generate(context.Background(), openai.ImageGenerateParams{Prompt: "x", Model: imageCore})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 503 || !strings.Contains(oe.Message, "config.baseURL") {
		t.Errorf("openai err = %v, want 503 naming config.baseURL", err)
	}
}

func TestOpenAIImages(t *testing.T) {
	up := &imagesUpstream{png: smallPNG(t)}
	srv, key := newImageServer(t, up)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()

	res, err := c.Images.Generate(ctx, openai.ImageGenerateParams{
		Prompt: "a watercolor fox", Model: titanV2, N: openai.Int(2), Size: openai.ImageGenerateParamsSize("512x512"),
		Quality: openai.ImageGenerateParamsQualityHD, Style: openai.ImageGenerateParamsStyleNatural,
		ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON, User: openai.String("user-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || res.Created == 0 || res.Data[0].RevisedPrompt != "revised: a watercolor fox" {
		t.Fatalf("response %+v", res)
	}
	if m := scrape(t, srv.URL); !strings.Contains(m, `outcrop_model_output_images_total{model_id="`+titanV2+`"} 2`) {
		t.Errorf("/metrics lacks the 2 images of %s", titanV2)
	}
	for _, d := range res.Data {
		decodeImage(t, d.B64JSON, "png")
	}
	if diff := cmp.Diff(map[string]any{"model": "test-image-model", "prompt": "a watercolor fox", "n": 2.0, "size": "512x512",
		"quality": "hd", "style": "natural", "response_format": "b64_json"}, up.last()); diff != "" {
		t.Errorf("upstream request (-want +got):\n%s", diff)
	}

	// response_format url answers with a data: URL.
	res, err = c.Images.Generate(ctx, openai.ImageGenerateParams{Prompt: "a fox", Model: sd35Large,
		ResponseFormat: openai.ImageGenerateParamsResponseFormatURL})
	if err != nil {
		t.Fatal(err)
	}
	b64, ok := strings.CutPrefix(res.Data[0].URL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("url %.40q is not a PNG data URL", res.Data[0].URL)
	}
	decodeImage(t, b64, "png")

	t.Run("errors", func(t *testing.T) {
		gen := func(p openai.ImageGenerateParams) error {
			_, err := c.Images.Generate(ctx, p)
			return err
		}
		up.setStatus(http.StatusTooManyRequests)
		throttled := gen(openai.ImageGenerateParams{Prompt: "x", Model: titanV1})
		up.setStatus(0)
		tests := []struct {
			name             string
			err              error
			status           int
			typ, code, param string
		}{
			{"n", gen(openai.ImageGenerateParams{Prompt: "x", Model: titanV1, N: openai.Int(11)}), 400, "invalid_request_error", "", "n"},
			{"size", gen(openai.ImageGenerateParams{Prompt: "x", Model: titanV1, Size: "huge"}), 400, "invalid_request_error", "", "size"},
			{"unknown model", gen(openai.ImageGenerateParams{Prompt: "x", Model: "amazon.nope-v1"}), 404, "invalid_request_error", "model_not_found", ""},
			{"text model", gen(openai.ImageGenerateParams{Prompt: "x", Model: echoModel}), 400, "invalid_request_error", "", ""},
			{"throttled", throttled, 429, "rate_limit_error", "rate_limit_exceeded", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var oe *openai.Error
				if !errors.As(tt.err, &oe) {
					t.Fatalf("err = %v, want *openai.Error", tt.err)
				}
				got := []any{oe.StatusCode, oe.Type, oe.Code, oe.Param}
				want := []any{tt.status, tt.typ, tt.code, tt.param}
				if diff := cmp.Diff(want, got); diff != "" || oe.Message == "" {
					t.Errorf("error %q (-want +got):\n%s", oe.Message, diff)
				}
			})
		}
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: titanV2, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
		if statusOf(err) != 400 {
			t.Errorf("chat on an image model: %v, want 400", err)
		}
	})
}

// TestImageWireGolden pins the exact wire shapes of image generation:
// InvokeModel with each image family's body, and the OpenAI dialect's
// /v1/images/generations.
func TestImageWireGolden(t *testing.T) {
	up := &imagesUpstream{png: smallPNG(t)}
	srv, _ := newImageServer(t, up, fixedClock)
	bearer := map[string]string{"Authorization": "Bearer any", "Content-Type": "application/json"}
	cases := []struct{ dir, name, method, path, body string }{
		{"wire", "invoke_titan_image", "POST", "/model/" + titanV2 + "/invoke",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse"},"imageGenerationConfig":{"numberOfImages":2,"width":512,"height":512,"seed":42}}`},
		{"wire", "invoke_titan_image_invalid", "POST", "/model/" + titanV2 + "/invoke",
			`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":6,"cfgScale":0.5}}`},
		{"wire", "invoke_sdxl", "POST", "/model/" + sdxl + "/invoke",
			`{"text_prompts":[{"text":"a lighthouse"}],"cfg_scale":7,"seed":3,"steps":30}`},
		{"wire", "invoke_stable_image", "POST", "/model/" + imageCore + "/invoke", `{"prompt":"a lighthouse","seed":3}`},
		{"wire", "invoke_image_stream", "POST", "/model/" + imageCore + "/invoke-with-response-stream", `{"prompt":"a lighthouse"}`},
		{"wire", "invoke_titan_image_stream", "POST", "/model/" + titanV2 + "/invoke-with-response-stream", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`},
		{"dialects", "openai_images", "POST", "/v1/images/generations",
			`{"model":"` + titanV2 + `","prompt":"a lighthouse","n":2,"size":"512x512","response_format":"b64_json"}`},
		{"dialects", "openai_images_url", "POST", "/v1/images/generations", `{"model":"` + sd35Large + `","prompt":"a lighthouse","response_format":"url"}`},
		{"dialects", "openai_images_bad_size", "POST", "/v1/images/generations", `{"model":"` + titanV2 + `","prompt":"x","size":"big"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got string
			if c.dir == "wire" {
				got = do(t, c.method, srv.URL+c.path, c.body)
			} else {
				got = doDialect(t, c.method, srv.URL+c.path, c.body, bearer)
			}
			golden := "testdata/" + c.dir + "/" + c.name + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", c.name, diff)
			}
		})
	}
}

// An Outcrop whose image model is served by a bedrock backend passes the
// Titan body through to the upstream (here another Outcrop, on the fake
// Images API) untouched, and its answer and errors back.
func TestImagesThroughBedrockBackend(t *testing.T) {
	up, _ := newImageServer(t, &imagesUpstream{png: smallPNG(t)})
	front := outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families,
		Extra:    []provider.Spec{bedrock.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["aws"] = config.Backend{Kind: "bedrock", Config: map[string]any{
				"region": "us-east-1", "endpointURL": up.URL, "accessKeyId": up.Key.ID, "secretAccessKey": up.Key.Secret, "maxRetries": 0,
			}}
		},
		Models: []catalog.Model{{ID: titanV2, Family: "titan-image-v2", Backend: "aws", BackendModel: "us." + titanV2,
			Input: []string{"TEXT"}, Output: []string{"IMAGE"}}},
	})
	c := runtimeClient(front, front.Key.ID, front.Key.Secret)
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(titanV2),
		Body: []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"two servers"},"imageGenerationConfig":{"numberOfImages":2}}`)})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Images []string `json:"images"`
	}
	if err := json.Unmarshal(out.Body, &m); err != nil || len(m.Images) != 2 {
		t.Fatalf("body %s: %v", out.Body, err)
	}
	decodeImage(t, m.Images[1], "png")
	_, err = c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(titanV2),
		Body: []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":9}}`)})
	var ve *rt.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "numberOfImages: 9 is not less or equal to 5") {
		t.Errorf("err = %v, want the upstream's ValidationException", err)
	}
}

// TestJSImages drives /v1/images/generations with the openai npm package
// (test/js-dialects/images.test.mjs).
func TestJSImages(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(moduleRoot, "test", "js-dialects", "node_modules")); err != nil {
		t.Skip("the openai package is not installed: run `npm ci --prefix test/js-dialects`")
	}
	hs := httptest.NewServer(&imagesUpstream{png: smallPNG(t)})
	defer hs.Close()
	opts := outcroptest.Options{
		Families: familyall.Families, Models: append(imageModels(t), outcroptest.EchoModels...),
		Mutate: func(c *config.Config) {
			c.Backends["images"] = config.Backend{Kind: "openai-images", Config: map[string]any{
				"baseURL": hs.URL + "/v1", "apiKey": "sk-upstream", "maxRetries": 0,
			}}
		},
	}
	runClientSuiteOn(t, opts, []string{"OUTCROP_TEST_IMAGE_MODEL=" + titanV2}, "node", "--test", "test/js-dialects/images.test.mjs")
}

// Image calls are charged to the same request quota whichever door they
// come in by, and recorded in the audit trail as InvokeModel.
func TestImagesQuotaAndAudit(t *testing.T) {
	hs := httptest.NewServer(&imagesUpstream{png: smallPNG(t)})
	defer hs.Close()
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families, Models: imageModels(t),
		Mutate: func(c *config.Config) {
			c.Backends["images"] = config.Backend{Kind: "openai-images", Config: map[string]any{"baseURL": hs.URL + "/v1", "apiKey": "sk-upstream", "maxRetries": 0}}
			c.Quotas.Models = map[string]config.QuotaLimit{titanV2: {RequestsPerMinute: 2}}
		},
	})
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc, oc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret), openAIClient(srv.URL, token)
	invoke := func() error {
		_, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(titanV2),
			Body: []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`)})
		return err
	}
	generate := func() error {
		_, err := oc.Images.Generate(ctx, openai.ImageGenerateParams{Prompt: "x", Model: titanV2})
		return err
	}
	if err := invoke(); err != nil {
		t.Fatal(err)
	}
	if err := generate(); err != nil {
		t.Fatal(err)
	}
	var te *rt.ThrottlingException
	if err := invoke(); !errors.As(err, &te) {
		t.Errorf("third call by InvokeModel: %v, want ThrottlingException", err)
	}
	var oe *openai.Error
	if err := generate(); !errors.As(err, &oe) || oe.StatusCode != 429 || oe.Type != "rate_limit_error" {
		t.Errorf("third call by /v1/images/generations: %v, want 429 rate_limit_error", err)
	}
	evs := lookup(t, srv, audit.Filter{Resource: titanV2})
	var names []string
	for _, e := range evs {
		names = append(names, e.EventName+"/"+e.ErrorCode)
	}
	sort.Strings(names)
	want := []string{"InvokeModel/", "InvokeModel/", "InvokeModel/ThrottlingException", "InvokeModel/ThrottlingException"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("audit events for %s (-want +got):\n%s", titanV2, diff)
	}
}
