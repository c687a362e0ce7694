package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// The openai kind generates images too, through /images/generations with
// the openai-images kind's defaults.
func TestGenerateImages(t *testing.T) {
	var pic bytes.Buffer
	png.Encode(&pic, image.NewGray(image.Rect(0, 0, 2, 2)))
	var got map[string]any
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/images/generations" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		json.NewEncoder(w).Encode(map[string]any{"created": 1, "data": []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString(pic.Bytes())}}})
	}))
	defer hs.Close()
	a := newTest(t, hs.URL).(provider.ImageGenerator)
	resp, err := a.GenerateImages(context.Background(), &provider.ImageRequest{Model: "dall-e-3", Prompt: "a fox", Count: 1, Width: 1024, Height: 1024, Quality: "high"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Images) != 1 || resp.Images[0].Format != "png" {
		t.Fatalf("images %+v", resp.Images)
	}
	if got["model"] != "dall-e-3" || got["size"] != "1024x1024" || got["quality"] != "hd" || got["response_format"] != "b64_json" {
		t.Errorf("upstream request %v", got)
	}
	// A chat-only server answers 404.
	noImages := newTest(t, hs.URL+"/other").(provider.ImageGenerator)
	if _, err := noImages.GenerateImages(context.Background(), &provider.ImageRequest{Prompt: "x", Count: 1}); fault.KindOf(err) != fault.ModelNotReady {
		t.Errorf("404 upstream: %v, want ModelNotReady", err)
	}
}
