package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestRefusedCallsAreClientErrors checks that calls refused in the runtime
// handler before the backend runs count as the model's client errors
// (CloudWatch's InvocationClientErrors): a Converse body out of range, an
// InvokeModel body of the wrong family, and a user denied the model; a
// model the catalog does not know gets no series.
func TestRefusedCallsAreClientErrors(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi"),
		InferenceConfig: &rt.InferenceConfiguration{Temperature: aws.Float32(7)}})
	if code, _ := apiError(t, err); code != "ValidationException" {
		t.Fatalf("temperature 7: %v", err)
	}
	_, err = rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(echoModel), Body: []byte(`{"prompt": 5}`)})
	if code, _ := apiError(t, err); code != "ValidationException" {
		t.Fatalf("bad body: %v", err)
	}
	k := newUser(t, srv, "nobody", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"bedrock:*","Resource":"*"}]}`)
	_, err = runtimeClient(srv, k.ID, k.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
	if code, _ := apiError(t, err); code != "AccessDeniedException" {
		t.Fatalf("denied: %v", err)
	}
	_, _ = rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("no.such-model"), Messages: userText("hi")})
	m := scrape(t, srv.URL)
	if want := `outcrop_model_invocations_total{model_id="` + echoModel + `",outcome="client_error"} 3`; !strings.Contains(m, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if strings.Contains(m, `model_id="no.such-model"`) {
		t.Error("an unknown model got a series")
	}
}
