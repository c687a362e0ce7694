// Package family defines the codecs that read and write each model family's
// native InvokeModel bodies (Titan, Claude, Llama, ...). A codec translates
// between the family's JSON and the canonical provider types; any backend
// can then serve any family. The catalog picks a codec by the model's
// `family` field; family/all lists the compiled-in codecs.
package family

import (
	"fmt"
	"sort"

	"github.com/outcrop/outcrop/internal/provider"
)

// Codec is the common part of every family codec.
type Codec interface {
	// Name is the value of `family:` in the catalog.
	Name() string
}

// ChatCodec reads text-generation request bodies and writes responses.
type ChatCodec interface {
	Codec
	// DecodeRequest parses a native body. Invalid bodies return fault.Invalid
	// errors worded as Bedrock words them.
	DecodeRequest(body []byte) (*provider.Request, error)
	// EncodeResponse renders the InvokeModel response body.
	EncodeResponse(req *provider.Request, resp *provider.Response) ([]byte, error)
	// NewStream returns the encoder of InvokeModelWithResponseStream chunks
	// for one response.
	NewStream(req *provider.Request) Stream
}

// BodyChooser is implemented by a chat codec whose models also read
// another family's bodies: Bedrock's Claude 2.x and Instant models take
// both Text Completions and Messages bodies. For returns the codec that
// reads, and answers, body.
type BodyChooser interface {
	For(body []byte) ChatCodec
}

// ChatFor returns the codec that reads body for a model of family c.
func ChatFor(c ChatCodec, body []byte) ChatCodec {
	if bc, ok := c.(BodyChooser); ok {
		return bc.For(body)
	}
	return c
}

// Stream turns canonical stream events into native chunks. Each chunk is
// one JSON object; the runtime adds amazon-bedrock-invocationMetrics to the
// last one.
type Stream interface {
	Chunks(ev provider.Event) ([][]byte, error)
}

// EmbedCodec reads embedding request bodies and writes responses.
type EmbedCodec interface {
	Codec
	DecodeEmbed(body []byte) (*provider.EmbedRequest, error)
	EncodeEmbed(req *provider.EmbedRequest, resp *provider.EmbedResponse) ([]byte, error)
}

// ImageCodec reads text-to-image request bodies and writes responses.
// Image families do not stream.
type ImageCodec interface {
	Codec
	DecodeImage(body []byte) (*provider.ImageRequest, error)
	EncodeImage(req *provider.ImageRequest, resp *provider.ImageResponse) ([]byte, error)
}

// Registry finds codecs by name.
type Registry struct{ codecs map[string]Codec }

// NewRegistry returns a registry of codecs; duplicate names are an error.
func NewRegistry(cs ...Codec) (*Registry, error) {
	r := &Registry{codecs: make(map[string]Codec, len(cs))}
	for _, c := range cs {
		if _, dup := r.codecs[c.Name()]; dup {
			return nil, fmt.Errorf("model family %q registered twice", c.Name())
		}
		r.codecs[c.Name()] = c
	}
	return r, nil
}

// Lookup returns the codec called name.
func (r *Registry) Lookup(name string) (Codec, bool) {
	c, ok := r.codecs[name]
	return c, ok
}

// Names lists the registered families.
func (r *Registry) Names() []string {
	ns := make([]string, 0, len(r.codecs))
	for n := range r.codecs {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
