package kb

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/provider"
)

// pieces streams a fixed text in pieces of n bytes.
type pieces struct {
	text string
	n    int
}

func (p pieces) Converse(context.Context, *provider.Request) (*provider.Response, error) {
	return nil, fmt.Errorf("not used")
}

func (p pieces) ConverseStream(_ context.Context, _ *provider.Request, emit func(provider.Event) error) error {
	for i := 0; i < len(p.text); i += p.n {
		if err := emit(provider.Event{Type: provider.TextDeltaEvent, Text: p.text[i:min(i+p.n, len(p.text))]}); err != nil {
			return err
		}
	}
	return emit(provider.Event{Type: provider.MessageStopEvent})
}

// TestStreamCitesLikeCite checks that citing sentence by sentence as text
// streams in gives the citations of the whole answer, however the text is
// cut, and that each citation comes after the text it cites.
func TestStreamCitesLikeCite(t *testing.T) {
	results := []Result{
		{Chunk: Chunk{ID: 1, DocID: "lighthouse", Text: "The lighthouse lamp burned whale oil until 1904. The tower is 38.5 metres tall."}},
		{Chunk: Chunk{ID: 2, DocID: "bees", Text: "A honey bee colony keeps one queen and forages for nectar."}},
	}
	answer := "The lamp burned whale oil.\nThe tower is 38.5 metres tall! A colony keeps one queen? Unrelated words here."
	want := Cite(answer, results)
	if len(want) != 3 {
		t.Fatalf("Cite gave %d citations, want 3: %+v", len(want), want)
	}
	for n := 1; n <= len(answer); n++ {
		p := &Prepared{sess: &session{}, results: results, adapter: pieces{answer, n}, req: &provider.Request{}}
		sent := 0
		var cites []Citation
		g, err := p.Stream(context.Background(), func(ev StreamEvent) error {
			if ev.Citation != nil {
				if ev.Citation.End >= sent {
					t.Errorf("pieces of %d: citation [%d, %d] before its text (%d bytes sent)", n, ev.Citation.Start, ev.Citation.End, sent)
				}
				cites = append(cites, *ev.Citation)
			}
			sent += len(ev.Text)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if g.Text != answer {
			t.Errorf("pieces of %d: text %q", n, g.Text)
		}
		if diff := cmp.Diff(want, cites); diff != "" {
			t.Errorf("pieces of %d: citations differ from Cite (-want +got):\n%s", n, diff)
		}
		if diff := cmp.Diff(want, g.Citations); diff != "" {
			t.Errorf("pieces of %d: returned citations differ from Cite (-want +got):\n%s", n, diff)
		}
	}
}
