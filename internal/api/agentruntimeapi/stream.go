package agentruntimeapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/eventstream"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
)

// sessionHeader carries the session ID of RetrieveAndGenerateStream.
const sessionHeader = "x-amzn-bedrock-knowledge-base-session-id"

// streamUnion is the event-stream union of RetrieveAndGenerateStream.
const streamUnion = "RetrieveAndGenerateStreamResponseOutput"

// citationEvent is CitationEvent. It also fills the deprecated citation
// member with the same content, for clients written before 2024-12-17.
type citationEvent struct {
	Citation              citation `json:"citation"`
	GeneratedResponsePart struct {
		TextResponsePart textPart `json:"textResponsePart"`
	} `json:"generatedResponsePart"`
	RetrievedReferences []reference `json:"retrievedReferences"`
}

// retrieveAndGenerateStream answers like RetrieveAndGenerate, as an event
// stream: "output" events carry the answer's text as the model writes it,
// and a "citation" event follows each sentence that retrieved passages
// support, once the sentence is complete. Everything that can be wrong
// with the request is reported before the stream starts, as an ordinary
// error response; a failure of the model after that is an exception
// event.
func (h *Handler) retrieveAndGenerateStream(w http.ResponseWriter, r *http.Request) error {
	req, err := h.decodeGenerate(r)
	if err != nil {
		return err
	}
	p, err := h.opts.KB.PrepareGenerate(r.Context(), req)
	if err != nil {
		return err
	}
	es := eventstream.NewWriter(w)
	es.Header.Set(sessionHeader, p.SessionID)
	_, err = p.Stream(r.Context(), func(ev kb.StreamEvent) error {
		if ev.Citation == nil {
			return es.Event("output", struct {
				Text string `json:"text"`
			}{ev.Text})
		}
		ct := toCitation(*ev.Citation)
		out := citationEvent{Citation: ct, GeneratedResponsePart: ct.GeneratedResponsePart, RetrievedReferences: ct.RetrievedReferences}
		return es.Event("citation", out)
	})
	if err != nil {
		return streamError(es, err)
	}
	es.Start() // an empty answer is an empty stream
	return nil
}

// streamError reports err in the stream once it has started, as the
// exception event its kind maps to; before that, the caller's error
// writer answers with an ordinary error response.
func streamError(es *eventstream.Writer, err error) error {
	if !es.Started() {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return nil // the client went away
	}
	name, _ := awsapi.ErrorFor(awsapi.AgentRuntime, fault.KindOf(err))
	member, ok := awsapi.StreamException(awsapi.AgentRuntime, streamUnion, name)
	if !ok {
		member, _ = awsapi.StreamException(awsapi.AgentRuntime, streamUnion, "InternalServerException")
	}
	_ = es.Exception(member, fault.Message(err))
	return nil
}
