package eventstream

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"
)

// decodeAll reads every frame of body with the SDK's own decoder.
func decodeAll(t *testing.T, body []byte) []eventstream.Message {
	t.Helper()
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var out []eventstream.Message
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			t.Fatalf("decode frame %d: %v", len(out), err)
		}
		out = append(out, m)
	}
	return out
}

func header(m eventstream.Message, name string) string {
	v := m.Headers.Get(name)
	if v == nil {
		return ""
	}
	return v.String()
}

func TestWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec)
	w.Header.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	if w.Started() {
		t.Fatal("started before the first frame")
	}
	if err := w.Event("messageStart", map[string]string{"role": "assistant"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Exception("throttlingException", "slow down"); err != nil {
		t.Fatal(err)
	}
	if err := w.Error("InternalFailure", "boom"); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || rec.Header().Get("Content-Type") != ContentType || rec.Header().Get("X-Amzn-Bedrock-Content-Type") != "application/json" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	ms := decodeAll(t, rec.Body.Bytes())
	type frame struct{ Type, Event, Exception, ErrorCode, Payload string }
	var got []frame
	for _, m := range ms {
		got = append(got, frame{header(m, ":message-type"), header(m, ":event-type"), header(m, ":exception-type"), header(m, ":error-code"), string(m.Payload)})
	}
	want := []frame{
		{"event", "messageStart", "", "", `{"role":"assistant"}`},
		{"exception", "", "throttlingException", "", `{"message":"slow down"}`},
		{"error", "", "", "InternalFailure", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func FuzzWriter(f *testing.F) {
	f.Add("chunk", []byte(`{"bytes":"e30="}`))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		rec := httptest.NewRecorder()
		w := NewWriter(rec)
		err := w.RawEvent(typ, payload)
		if len(typ) > 255 || len(typ) == 0 {
			return // header names/values the encoder may reject; no panic is the property
		}
		if err != nil {
			return
		}
		ms := decodeAll(t, rec.Body.Bytes())
		if len(ms) != 1 || header(ms[0], ":event-type") != typ || !bytes.Equal(ms[0].Payload, payload) {
			t.Fatalf("round trip of %q/%q failed", typ, payload)
		}
	})
}

// flushes records the body's length at each Flush.
type flushes struct {
	*httptest.ResponseRecorder
	at []int
}

func (f *flushes) Flush() {
	f.at = append(f.at, f.Body.Len())
	f.ResponseRecorder.Flush()
}

// TestWriterBatch checks that the first frame flushes at once, that frames
// written inside a burst after it stay buffered until the first frame
// after the burst, and that an exception always flushes.
func TestWriterBatch(t *testing.T) {
	rec := &flushes{ResponseRecorder: httptest.NewRecorder()}
	w := NewWriter(rec)
	w.Batch(true)
	for range 3 {
		if err := w.RawEvent("chunk", []byte(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.at) != 1 {
		t.Fatalf("%d flushes after a burst of 3 frames, want 1 (the first frame)", len(rec.at))
	}
	first := rec.at[0]
	if err := w.Exception("throttlingException", "slow down"); err != nil {
		t.Fatal(err)
	}
	if len(rec.at) != 2 || rec.at[1] != rec.Body.Len() {
		t.Fatalf("flushes at %v of %d bytes: the exception did not flush everything", rec.at, rec.Body.Len())
	}
	if n := len(decodeAll(t, rec.Body.Bytes()[:first])); n != 1 {
		t.Errorf("first flush held %d frames, want 1", n)
	}
	if n := len(decodeAll(t, rec.Body.Bytes())); n != 4 {
		t.Errorf("%d frames, want 4", n)
	}
}
