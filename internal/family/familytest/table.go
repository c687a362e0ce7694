package familytest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/provider"
)

// DecodeCase is one decoding table entry: Codec decodes Body into Want.
// Codec is a family.ChatCodec (Want is a *provider.Request), a
// family.EmbedCodec (Want is a *provider.EmbedRequest) or a
// family.ImageCodec (Want is a *provider.ImageRequest).
type DecodeCase struct {
	Name  string
	Codec family.Codec
	Body  string
	Want  any
}

// Decode runs every case as a subtest and compares the decoded request
// with Want.
func Decode(t *testing.T, cases []DecodeCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := decode(t, tt.Codec, []byte(tt.Body))
			if err != nil {
				t.Fatalf("decode(%s): %v", tt.Body, err)
			}
			if diff := cmp.Diff(tt.Want, got); diff != "" {
				t.Errorf("decode(%s) mismatch (-want +got):\n%s", tt.Body, diff)
			}
		})
	}
}

// ErrorCase is one rejection table entry: Codec refuses Body with a
// fault.Invalid error whose client message is Want.
type ErrorCase struct {
	Name  string
	Codec family.Codec
	Body  string
	Want  string
}

// DecodeErrors runs every case as a subtest and checks the error with
// Invalid.
func DecodeErrors(t *testing.T, cases []ErrorCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			_, err := decode(t, tt.Codec, []byte(tt.Body))
			Invalid(t, err, tt.Want)
		})
	}
}

// decode calls the decoder c has. Results are returned as any so that a
// Request and an EmbedRequest compare alike with cmp.
func decode(t *testing.T, c family.Codec, body []byte) (any, error) {
	t.Helper()
	switch c := c.(type) {
	case family.ChatCodec:
		return c.DecodeRequest(body)
	case family.EmbedCodec:
		return c.DecodeEmbed(body)
	case family.ImageCodec:
		return c.DecodeImage(body)
	}
	t.Fatalf("%T is not a family.ChatCodec, EmbedCodec or ImageCodec", c)
	return nil, nil
}

// ResponseCase is one EncodeResponse table entry, checked against the
// golden file testdata/response_<Name>.json. A nil Req is an empty request.
type ResponseCase struct {
	Name  string
	Codec family.ChatCodec
	Req   *provider.Request
	Resp  *provider.Response
}

// Responses runs every case as a subtest, comparing the indented body with
// its golden file (rewritten first when update is set).
func Responses(t *testing.T, update bool, cases []ResponseCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			b, err := tt.Codec.EncodeResponse(orEmpty(tt.Req), tt.Resp)
			if err != nil {
				t.Fatalf("EncodeResponse: %v", err)
			}
			Golden(t, "testdata/response_"+tt.Name+".json", Indent(t, b), update)
		})
	}
}

// StreamCase is one NewStream table entry: Events run through the stream
// of Req must give the chunks in testdata/stream_<Name>.jsonl. A nil Req is
// an empty request.
type StreamCase struct {
	Name   string
	Codec  family.ChatCodec
	Req    *provider.Request
	Events []provider.Event
}

// Streams runs every case as a subtest, comparing the chunks, one per
// line, with its golden file (rewritten first when update is set).
func Streams(t *testing.T, update bool, cases []StreamCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			got := Chunks(t, tt.Codec.NewStream(orEmpty(tt.Req)), tt.Events)
			Golden(t, "testdata/stream_"+tt.Name+".jsonl", got, update)
		})
	}
}

func orEmpty(req *provider.Request) *provider.Request {
	if req == nil {
		return &provider.Request{}
	}
	return req
}
