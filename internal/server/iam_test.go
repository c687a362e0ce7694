package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bt "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

const (
	account    = "000000000000"
	echoARN    = "arn:aws:bedrock:us-east-1::foundation-model/" + echoModel
	guardARN   = "arn:aws:bedrock:us-east-1:" + account + ":guardrail/abc123"
	notAllowed = " because no identity-based policy allows the "
)

func bedrockClient(srv *outcroptest.Server, id, secret string) *bedrock.Client {
	return bedrock.New(bedrock.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:       &http.Client{Transport: outcroptest.BodyCopyTransport{}},
		RetryMaxAttempts: 1,
	})
}

// newUser creates a user (or "role/NAME") with tags and inline policies and
// returns an access key for it.
func newUser(t *testing.T, srv *outcroptest.Server, owner string, tags map[string]string, policies ...string) iam.AccessKey {
	t.Helper()
	ctx := context.Background()
	s := srv.Srv.IAM()
	var err error
	if name, ok := strings.CutPrefix(owner, "role/"); ok {
		_, err = s.CreateRole(ctx, name)
	} else {
		_, err = s.CreateUser(ctx, owner)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) > 0 {
		if err := s.TagEntity(ctx, owner, tags, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, doc := range policies {
		if err := s.PutInlinePolicy(ctx, owner, "p"+string(rune('0'+i)), doc); err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
	}
	k, err := s.CreateAccessKey(ctx, owner, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// stmt builds a one-statement policy document.
func stmt(effect, actionKey, action, resourceKey, resource, condition string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","` + actionKey + `":` + action + `,"` + resourceKey + `":` + resource
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + `}]}`
}

func allow(action, resource string) string {
	return stmt("Allow", "Action", quote(action), "Resource", quote(resource), "")
}

func quote(s string) string {
	if strings.HasPrefix(s, "[") {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// outcome is what a call returned: "ok", or the error code and message.
type outcome struct {
	Code string
	Msg  string
}

func result(err error) outcome {
	if err == nil {
		return outcome{Code: "ok"}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return outcome{ae.ErrorCode(), ae.ErrorMessage()}
	}
	return outcome{"error", err.Error()}
}

func implicit(user, action, resource string) outcome {
	msg := "User: arn:aws:iam::" + account + ":user/" + user + " is not authorized to perform: " + action
	if resource != "" {
		msg += " on resource: " + resource
	}
	return outcome{"AccessDeniedException", msg + notAllowed + action + " action"}
}

func explicit(user, action, resource string) outcome {
	msg := "User: arn:aws:iam::" + account + ":user/" + user + " is not authorized to perform: " + action
	if resource != "" {
		msg += " on resource: " + resource
	}
	return outcome{"AccessDeniedException", msg + " with an explicit deny in an identity-based policy"}
}

var ok = outcome{Code: "ok"}

// TestPolicyMatrix sends real SDK calls as users with different policies
// and checks AWS's documented evaluation results
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
// and access-denied messages.
func TestPolicyMatrix(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	// Tag a resource for the aws:ResourceTag cases (as root).
	root := bedrockClient(srv, srv.Key.ID, srv.Key.Secret)
	if _, err := root.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(guardARN),
		Tags: []bt.Tag{{Key: aws.String("team"), Value: aws.String("ml")}}}); err != nil {
		t.Fatal(err)
	}

	converse := func(c *bedrockruntime.Client) error {
		_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
		return err
	}
	converseStream := func(c *bedrockruntime.Client) error {
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
		if err != nil {
			return err
		}
		s := out.GetStream()
		for range s.Events() {
		}
		s.Close()
		return s.Err()
	}
	invoke := func(c *bedrockruntime.Client) error {
		_, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(echoModel), ContentType: aws.String("application/json"),
			Body: []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)})
		return err
	}
	list := func(c *bedrock.Client) error {
		_, err := c.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
		return err
	}
	get := func(c *bedrock.Client) error {
		_, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(echoModel)})
		return err
	}
	listTags := func(c *bedrock.Client) error {
		_, err := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(guardARN)})
		return err
	}
	tagTeam := func(team string) func(c *bedrock.Client) error {
		return func(c *bedrock.Client) error {
			_, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(guardARN),
				Tags: []bt.Tag{{Key: aws.String("team"), Value: aws.String(team)}}})
			return err
		}
	}

	type call struct {
		name    string
		runtime func(*bedrockruntime.Client) error
		control func(*bedrock.Client) error
		want    outcome
	}
	cases := []struct {
		name     string
		user     string
		tags     map[string]string
		policies []string
		calls    []call
	}{
		{
			name: "no policy: implicit deny",
			user: "nopolicy",
			calls: []call{
				{name: "Converse", runtime: converse, want: implicit("nopolicy", "bedrock:InvokeModel", echoARN)},
				{name: "ListFoundationModels", control: list, want: implicit("nopolicy", "bedrock:ListFoundationModels", "")},
			},
		},
		{
			name:     "allow InvokeModel on the model",
			user:     "invokeonly",
			policies: []string{allow("bedrock:InvokeModel", echoARN)},
			calls: []call{
				{name: "Converse", runtime: converse, want: ok},
				{name: "InvokeModel", runtime: invoke, want: ok},
				// ConverseStream needs bedrock:InvokeModelWithResponseStream.
				{name: "ConverseStream", runtime: converseStream, want: implicit("invokeonly", "bedrock:InvokeModelWithResponseStream", echoARN)},
				{name: "GetFoundationModel", control: get, want: implicit("invokeonly", "bedrock:GetFoundationModel", echoARN)},
			},
		},
		{
			name: "explicit deny overrides allow",
			user: "denyinvoke",
			policies: []string{
				allow("bedrock:*", "*"),
				stmt("Deny", "Action", `"bedrock:InvokeModel"`, "Resource", `"*"`, ""),
			},
			calls: []call{
				{name: "Converse", runtime: converse, want: explicit("denyinvoke", "bedrock:InvokeModel", echoARN)},
				{name: "ConverseStream", runtime: converseStream, want: ok},
				{name: "ListFoundationModels", control: list, want: ok},
			},
		},
		{
			name:     "wildcards in action and resource",
			user:     "wildcard",
			policies: []string{allow("bedrock:Invoke*", "arn:aws:bedrock:*::foundation-model/outcrop.*")},
			calls: []call{
				{name: "Converse", runtime: converse, want: ok},
				{name: "ConverseStream", runtime: converseStream, want: ok},
				{name: "GetFoundationModel", control: get, want: implicit("wildcard", "bedrock:GetFoundationModel", echoARN)},
			},
		},
		{
			name:     "wildcard resource that does not match",
			user:     "othermodels",
			policies: []string{allow("bedrock:*", "arn:aws:bedrock:*::foundation-model/anthropic.*")},
			calls: []call{
				{name: "Converse", runtime: converse, want: implicit("othermodels", "bedrock:InvokeModel", echoARN)},
			},
		},
		{
			name: "principal tag condition holds",
			user: "mlteam",
			tags: map[string]string{"team": "ml"},
			policies: []string{stmt("Allow", "Action", `"bedrock:InvokeModel"`, "Resource", `"*"`,
				`{"StringEquals":{"aws:PrincipalTag/team":"ml"}}`)},
			calls: []call{{name: "Converse", runtime: converse, want: ok}},
		},
		{
			name: "principal tag condition fails",
			user: "webteam",
			tags: map[string]string{"team": "web"},
			policies: []string{stmt("Allow", "Action", `"bedrock:InvokeModel"`, "Resource", `"*"`,
				`{"StringEquals":{"aws:PrincipalTag/team":"ml"}}`)},
			calls: []call{{name: "Converse", runtime: converse, want: implicit("webteam", "bedrock:InvokeModel", echoARN)}},
		},
		{
			name: "resource tag matches principal tag (ABAC)",
			user: "abacml",
			tags: map[string]string{"team": "ml"},
			policies: []string{stmt("Allow", "Action", `["bedrock:ListTagsForResource","bedrock:TagResource"]`, "Resource", `"*"`,
				`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`)},
			calls: []call{{name: "ListTagsForResource", control: listTags, want: ok}},
		},
		{
			name: "resource tag differs from principal tag",
			user: "abacweb",
			tags: map[string]string{"team": "web"},
			policies: []string{stmt("Allow", "Action", `"bedrock:ListTagsForResource"`, "Resource", `"*"`,
				`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`)},
			calls: []call{{name: "ListTagsForResource", control: listTags, want: implicit("abacweb", "bedrock:ListTagsForResource", guardARN)}},
		},
		{
			name: "request tag condition",
			user: "requesttag",
			tags: map[string]string{"team": "ml"},
			policies: []string{stmt("Allow", "Action", `"bedrock:TagResource"`, "Resource", `"*"`,
				`{"StringEquals":{"aws:RequestTag/team":"${aws:PrincipalTag/team}"}}`)},
			calls: []call{
				{name: "TagResource own team", control: tagTeam("ml"), want: ok},
				{name: "TagResource other team", control: tagTeam("web"), want: implicit("requesttag", "bedrock:TagResource", guardARN)},
			},
		},
		{
			name:     "source IP in range",
			user:     "iplocal",
			policies: []string{stmt("Allow", "Action", `"bedrock:*"`, "Resource", `"*"`, `{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}`)},
			calls:    []call{{name: "Converse", runtime: converse, want: ok}},
		},
		{
			name:     "source IP out of range",
			user:     "iprange",
			policies: []string{stmt("Allow", "Action", `"bedrock:*"`, "Resource", `"*"`, `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)},
			calls:    []call{{name: "Converse", runtime: converse, want: implicit("iprange", "bedrock:InvokeModel", echoARN)}},
		},
		{
			name: "deny from outside a network",
			user: "outsidenet",
			policies: []string{
				allow("bedrock:*", "*"),
				stmt("Deny", "Action", `"*"`, "Resource", `"*"`, `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`),
			},
			calls: []call{{name: "ListFoundationModels", control: list, want: explicit("outsidenet", "bedrock:ListFoundationModels", "")}},
		},
		{
			name:     "NotAction allows everything else",
			user:     "notaction",
			policies: []string{stmt("Allow", "NotAction", `"bedrock:InvokeModel*"`, "Resource", `"*"`, "")},
			calls: []call{
				{name: "ListFoundationModels", control: list, want: ok},
				{name: "GetFoundationModel", control: get, want: ok},
				{name: "Converse", runtime: converse, want: implicit("notaction", "bedrock:InvokeModel", echoARN)},
			},
		},
		{
			name: "Deny with NotAction denies everything else",
			user: "denynotaction",
			policies: []string{
				allow("*", "*"),
				stmt("Deny", "NotAction", `["bedrock:InvokeModel","bedrock:ListFoundationModels"]`, "Resource", `"*"`, ""),
			},
			calls: []call{
				{name: "Converse", runtime: converse, want: ok},
				{name: "ListFoundationModels", control: list, want: ok},
				{name: "GetFoundationModel", control: get, want: explicit("denynotaction", "bedrock:GetFoundationModel", echoARN)},
			},
		},
		{
			name: "secure transport required",
			user: "tlsonly",
			policies: []string{
				allow("bedrock:*", "*"),
				stmt("Deny", "Action", `"*"`, "Resource", `"*"`, `{"Bool":{"aws:SecureTransport":"false"}}`),
			},
			calls: []call{{name: "Converse", runtime: converse, want: explicit("tlsonly", "bedrock:InvokeModel", echoARN)}},
		},
		{
			name: "policy variable: username",
			user: "uservar",
			policies: []string{stmt("Allow", "Action", `"bedrock:InvokeModel"`, "Resource", `"*"`,
				`{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::`+account+`:user/${aws:username}","aws:RequestedRegion":"us-east-1"}}`)},
			calls: []call{{name: "Converse", runtime: converse, want: ok}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := newUser(t, srv, tc.user, tc.tags, tc.policies...)
			rc := runtimeClient(srv, k.ID, k.Secret)
			bc := bedrockClient(srv, k.ID, k.Secret)
			for _, c := range tc.calls {
				var err error
				if c.runtime != nil {
					err = c.runtime(rc)
				} else {
					err = c.control(bc)
				}
				if diff := cmp.Diff(c.want, result(err)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, diff)
				}
			}
		})
	}
}

// TestRoleAndRootAccess checks that a role's key acts as an assumed-role
// session and that the root user is never restricted.
func TestRoleAndRootAccess(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	k := newUser(t, srv, "role/reader", nil, allow("bedrock:ListFoundationModels", "*"))
	bc := bedrockClient(srv, k.ID, k.Secret)
	if _, err := bc.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := runtimeClient(srv, k.ID, k.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
	want := outcome{"AccessDeniedException", "User: arn:aws:sts::" + account + ":assumed-role/reader/" + k.ID +
		" is not authorized to perform: bedrock:InvokeModel on resource: " + echoARN + notAllowed + "bedrock:InvokeModel action"}
	if diff := cmp.Diff(want, result(err)); diff != "" {
		t.Errorf("role Converse (-want +got):\n%s", diff)
	}
	// A Deny attached to nobody cannot touch root.
	if _, err := runtimeClient(srv, srv.Key.ID, srv.Key.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")}); err != nil {
		t.Errorf("root Converse: %v", err)
	}
}

// TestPolicyChangeTakesEffect checks that a policy change made through the
// service applies to the next request, even with the caches on.
func TestPolicyChangeTakesEffect(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{KeyCacheTTL: time.Minute})
	ctx := context.Background()
	k := newUser(t, srv, "changing", nil)
	c := runtimeClient(srv, k.ID, k.Secret)
	conv := func() outcome {
		_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
		return result(err)
	}
	if got := conv(); got.Code != "AccessDeniedException" {
		t.Fatalf("before policy: %+v", got)
	}
	s := srv.Srv.IAM()
	arn, err := s.CreatePolicy(ctx, "invoke", allow("bedrock:InvokeModel", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(ctx, "changing", arn, true); err != nil {
		t.Fatal(err)
	}
	if got := conv(); got != ok {
		t.Errorf("after attach: %+v", got)
	}
	if err := s.Attach(ctx, "changing", "invoke", false); err != nil {
		t.Fatal(err)
	}
	if got := conv(); got.Code != "AccessDeniedException" {
		t.Errorf("after detach: %+v", got)
	}
}

func TestMalformedPolicy(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	s := srv.Srv.IAM()
	if _, err := s.CreateUser(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"not json", `{"Statement":`, "MalformedPolicyDocument: Syntax errors in policy: the document is not valid JSON."},
		{"bad effect", `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, "MalformedPolicyDocument: "},
		{"principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "MalformedPolicyDocument: Statement[0]: Policy document should not specify a principal"},
	} {
		err := s.PutInlinePolicy(ctx, "m", "p", tc.doc)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: PutInlinePolicy = %v, want prefix %q", tc.name, err, tc.want)
		}
	}
	big := `{"Version":"2012-10-17","Statement":{"Sid":"` + strings.Repeat("A", 2100) + `","Effect":"Allow","Action":"*","Resource":"*"}}`
	if err := s.PutInlinePolicy(ctx, "m", "p", big); err == nil || !strings.Contains(err.Error(), "LimitExceeded") {
		t.Errorf("oversized inline policy: %v", err)
	}
}

// TestModelAccess runs Bedrock's model access flow with model access
// disabled by default: invocation fails as Bedrock fails until an
// agreement is created, and again after it is deleted.
func TestModelAccess(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Mutate: func(c *config.Config) { c.ModelAccess.Default = "disabled" }})
	ctx := context.Background()
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	bc := bedrockClient(srv, srv.Key.ID, srv.Key.Secret)
	conv := func() outcome {
		_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
		return result(err)
	}
	noAccess := outcome{"AccessDeniedException", "You don't have access to the model with the specified model ID."}
	availability := func() [2]bt.AgreementStatus {
		out, err := bc.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String(echoModel)})
		if err != nil {
			t.Fatal(err)
		}
		if out.AuthorizationStatus != bt.AuthorizationStatusAuthorized || out.RegionAvailability != bt.RegionAvailabilityAvailable {
			t.Errorf("availability = %+v", out)
		}
		return [2]bt.AgreementStatus{out.AgreementAvailability.Status, bt.AgreementStatus(out.EntitlementAvailability)}
	}
	if diff := cmp.Diff(noAccess, conv()); diff != "" {
		t.Errorf("before agreement (-want +got):\n%s", diff)
	}
	if got, want := availability(), [2]bt.AgreementStatus{"NOT_AVAILABLE", "NOT_AVAILABLE"}; got != want {
		t.Errorf("availability before = %v, want %v", got, want)
	}
	// ListFoundationModels lists every model, enabled or not.
	if l, err := bc.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}); err != nil || len(l.ModelSummaries) != 1 {
		t.Errorf("ListFoundationModels = %v, %v", l, err)
	}
	offers, err := bc.ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(echoModel)})
	if err != nil {
		t.Fatal(err)
	}
	if len(offers.Offers) != 1 || offers.Offers[0].OfferToken == nil || offers.Offers[0].TermDetails == nil {
		t.Fatalf("offers = %+v", offers)
	}
	if _, err := bc.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(echoModel), OfferToken: aws.String("bogus")}); result(err).Code != "ValidationException" {
		t.Errorf("bad offer token: %v", err)
	}
	created, err := bc.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(echoModel), OfferToken: offers.Offers[0].OfferToken})
	if err != nil || *created.ModelId != echoModel {
		t.Fatalf("CreateFoundationModelAgreement = %v, %v", created, err)
	}
	if got := conv(); got != ok {
		t.Errorf("after agreement: %+v", got)
	}
	if got, want := availability(), [2]bt.AgreementStatus{"AVAILABLE", "AVAILABLE"}; got != want {
		t.Errorf("availability after = %v, want %v", got, want)
	}
	if _, err := bc.DeleteFoundationModelAgreement(ctx, &bedrock.DeleteFoundationModelAgreementInput{ModelId: aws.String(echoModel)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(noAccess, conv()); diff != "" {
		t.Errorf("after deleting the agreement (-want +got):\n%s", diff)
	}
	if _, err := bc.GetFoundationModelAvailability(ctx, &bedrock.GetFoundationModelAvailabilityInput{ModelId: aws.String("amazon.nope-v1")}); result(err).Code != "ResourceNotFoundException" {
		t.Errorf("unknown model availability: %v", err)
	}

	// A user with IAM permission still needs model access; IAM is checked first.
	k := newUser(t, srv, "invoker", nil, allow("bedrock:InvokeModel", "*"))
	_, err = runtimeClient(srv, k.ID, k.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
	if diff := cmp.Diff(noAccess, result(err)); diff != "" {
		t.Errorf("user without model access (-want +got):\n%s", diff)
	}
	k2 := newUser(t, srv, "nobody", nil)
	_, err = runtimeClient(srv, k2.ID, k2.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
	if diff := cmp.Diff(implicit("nobody", "bedrock:InvokeModel", echoARN), result(err)); diff != "" {
		t.Errorf("user without permission (-want +got):\n%s", diff)
	}

	// The use case form round-trips.
	if _, err := bc.GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{}); result(err).Code != "ResourceNotFoundException" {
		t.Errorf("use case before put: %v", err)
	}
	form := []byte(`{"companyName":"Example","useCase":"testing"}`)
	if _, err := bc.PutUseCaseForModelAccess(ctx, &bedrock.PutUseCaseForModelAccessInput{FormData: form}); err != nil {
		t.Fatal(err)
	}
	got, err := bc.GetUseCaseForModelAccess(ctx, &bedrock.GetUseCaseForModelAccessInput{})
	if err != nil || !bytes.Equal(got.FormData, form) {
		t.Errorf("GetUseCaseForModelAccess = %v, %v", got, err)
	}
}

func TestTags(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	c := bedrockClient(srv, srv.Key.ID, srv.Key.Secret)
	tags := func(kv ...string) []bt.Tag {
		var out []bt.Tag
		for i := 0; i < len(kv); i += 2 {
			out = append(out, bt.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return out
	}
	list := func() map[string]string {
		out, err := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(guardARN)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tg := range out.Tags {
			m[*tg.Key] = *tg.Value
		}
		return m
	}
	if got := list(); len(got) != 0 {
		t.Errorf("untagged resource has %v", got)
	}
	if _, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(guardARN), Tags: tags("team", "ml", "env", "prod")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(guardARN), Tags: tags("env", "dev")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"team": "ml", "env": "dev"}, list()); diff != "" {
		t.Errorf("after tagging (-want +got):\n%s", diff)
	}
	if _, err := c.UntagResource(ctx, &bedrock.UntagResourceInput{ResourceARN: aws.String(guardARN), TagKeys: []string{"env", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"team": "ml"}, list()); diff != "" {
		t.Errorf("after untagging (-want +got):\n%s", diff)
	}

	var fifty []string
	for i := range 50 {
		fifty = append(fifty, "k"+strings.Repeat("x", i), "v")
	}
	for _, tc := range []struct {
		name string
		arn  string
		tags []bt.Tag
		want string
	}{
		{"not an ARN", "guardrail-abc123-xyz", tags("a", "b"), "ValidationException"},
		{"foundation model", echoARN, tags("a", "b"), "ValidationException"},
		{"other account", "arn:aws:bedrock:us-east-1:111122223333:guardrail/abc123", tags("a", "b"), "ResourceNotFoundException"},
		{"key too long", guardARN, tags(strings.Repeat("k", 129), "v"), "ValidationException"},
		{"value too long", guardARN, tags("k", strings.Repeat("v", 257)), "ValidationException"},
		{"bad key characters", guardARN, tags("k*", "v"), "ValidationException"},
		{"51 tags", guardARN, tags(fifty...), "TooManyTagsException"},
	} {
		_, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(tc.arn), Tags: tc.tags})
		if got := result(err).Code; got != tc.want {
			t.Errorf("%s: TagResource = %v, want %s", tc.name, err, tc.want)
		}
	}
	ok128 := tags(strings.Repeat("k", 128), strings.Repeat("v", 256))
	if _, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(guardARN), Tags: ok128}); err != nil {
		t.Errorf("longest key and value: %v", err)
	}
}

// signedDo sends a request signed with k and returns the status, the
// X-Amzn-Errortype header and the body.
func signedDo(t *testing.T, srv *outcroptest.Server, k iam.AccessKey, method, path, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), string(b)
}

const agentARN = "arn:aws:bedrock:us-east-1:" + account + ":agent/AGENT12345"

// TestEveryOperationAuthorizes sends every operation of every service as a
// user without policies and expects AccessDeniedException naming the
// operation's IAM action: no operation skips authorization. Operations that
// validate their input first get a valid one.
func TestEveryOperationAuthorizes(t *testing.T) {
	bodies := map[string]string{
		"bedrock TagResource":         `{"resourceARN":"` + guardARN + `","tags":[]}`,
		"bedrock UntagResource":       `{"resourceARN":"` + guardARN + `","tagKeys":[]}`,
		"bedrock ListTagsForResource": `{"resourceARN":"` + guardARN + `"}`,
		"bedrock-agent TagResource":   `{"tags":{}}`,
		// The knowledge base to authorize on is in the body.
		"bedrock-agent-runtime RetrieveAndGenerate": `{"input":{"text":"q"},"retrieveAndGenerateConfiguration":{"type":"KNOWLEDGE_BASE",` +
			`"knowledgeBaseConfiguration":{"knowledgeBaseId":"ABCDEFGH12","modelArn":"` + echoModel + `"}}}`,
		"bedrock-agent-runtime RetrieveAndGenerateStream": `{"input":{"text":"q"},"retrieveAndGenerateConfiguration":{"type":"KNOWLEDGE_BASE",` +
			`"knowledgeBaseConfiguration":{"knowledgeBaseId":"ABCDEFGH12","modelArn":"` + echoModel + `"}}}`,
	}
	queries := map[string]string{"bedrock-agent UntagResource": "?tagKeys=a"}
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	k := newUser(t, srv, "noperms", nil)
	param := regexp.MustCompile(`\{([^}+]+)\+?\}`)
	seen := map[string]bool{}
	for _, svc := range awsapi.Services {
		for _, op := range awsapi.Operations(svc) {
			path, _, _ := strings.Cut(op.URI, "?")
			if seen[op.Method+" "+path] {
				continue // shared route, owned by an earlier service
			}
			seen[op.Method+" "+path] = true
			u := param.ReplaceAllStringFunc(path, func(m string) string {
				switch {
				case strings.Contains(m, "modelId"):
					return url.PathEscape(echoModel)
				case m == "{resourceArn}":
					return url.PathEscape(agentARN)
				}
				return "ABCDEFGH12" // fits the ID patterns ([0-9a-zA-Z]{10}), so validation passes
			})
			name := svc.String() + " " + op.Name
			body, ok := bodies[name]
			if !ok {
				body = "{}"
			}
			status, code, msg := signedDo(t, srv, k, op.Method, u+queries[name], body)
			action := awsapi.Action(svc, op.Name)
			if status != 403 || code != "AccessDeniedException" || !strings.Contains(msg, "is not authorized to perform: "+action+" ") {
				t.Errorf("%s: %d %s %s, want AccessDeniedException for %s", name, status, code, msg, action)
			}
		}
	}
}

// TestAgentTags round-trips tags through bedrock-agent's /tags/{resourceArn}
// (no SDK client for bedrock-agent is a dependency, so requests are signed
// with the SDK's signer directly).
func TestAgentTags(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	path := "/tags/" + url.PathEscape(agentARN)
	do := func(method, p, body string) (int, string, string) {
		return signedDo(t, srv, srv.Key, method, p, body)
	}
	if st, code, b := do("POST", path, `{"tags":{"team":"ml","env":"prod"}}`); st != 200 {
		t.Fatalf("TagResource = %d %s %s", st, code, b)
	}
	if st, code, b := do("DELETE", path+"?tagKeys=env", ""); st != 200 {
		t.Fatalf("UntagResource = %d %s %s", st, code, b)
	}
	st, _, b := do("GET", path, "")
	if diff := cmp.Diff(`{"tags":{"team":"ml"}}`, b); st != 200 || diff != "" {
		t.Errorf("ListTagsForResource = %d (-want +got):\n%s", st, diff)
	}
	// A user may list the tags of resources of its own team only.
	k := newUser(t, srv, "agentml", map[string]string{"team": "ml"}, stmt("Allow", "Action", `"bedrock:ListTagsForResource"`, "Resource", `"*"`,
		`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`))
	if st, code, b := signedDo(t, srv, k, "GET", path, ""); st != 200 {
		t.Errorf("own team: %d %s %s", st, code, b)
	}
	other := "/tags/" + url.PathEscape("arn:aws:bedrock:us-east-1:"+account+":knowledge-base/KB12345678")
	if st, code, _ := signedDo(t, srv, k, "GET", other, ""); st != 403 || code != "AccessDeniedException" {
		t.Errorf("untagged resource: %d %s", st, code)
	}
	for _, tc := range []struct{ name, method, path, body, want string }{
		{"bad ARN", "GET", "/tags/" + url.PathEscape(guardARN), "", "ValidationException"},
		{"no tagKeys", "DELETE", path, "", "ValidationException"},
		{"long key", "POST", path, `{"tags":{"` + strings.Repeat("k", 129) + `":"v"}}`, "ValidationException"},
	} {
		if _, code, b := do(tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s: %s %s, want %s", tc.name, code, b, tc.want)
		}
	}
}

// headerTransport adds a header to every request after signing, as a
// reverse proxy would.
type headerTransport struct{ key, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.key, h.value)
	return outcroptest.BodyCopyTransport{}.RoundTrip(r)
}

// TestForwardedFor checks that aws:SourceIp comes from X-Forwarded-For only
// when the peer is a trusted proxy.
func TestForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		xff     string
		want    string
	}{
		{"no trusted proxies: header ignored", nil, "203.0.113.7", "AccessDeniedException"},
		{"trusted proxy: header used", []string{"127.0.0.1", "::1"}, "203.0.113.7", "ok"},
		{"trusted proxy: nearest untrusted hop", []string{"127.0.0.0/8", "::1/128"}, "203.0.113.7, 198.51.100.1", "AccessDeniedException"},
		{"trusted hops are skipped", []string{"127.0.0.0/8", "::1/128"}, "198.51.100.1, 203.0.113.7, 127.0.0.5", "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := outcroptest.NewServer(t, outcroptest.Options{Mutate: func(c *config.Config) { c.Auth.TrustedProxies = tc.proxies }})
			k := newUser(t, srv, "proxied", nil, stmt("Allow", "Action", `"bedrock:*"`, "Resource", `"*"`, `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`))
			c := bedrock.New(bedrock.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider(k.ID, k.Secret, ""),
				HTTPClient:  &http.Client{Transport: headerTransport{"X-Forwarded-For", tc.xff}}, RetryMaxAttempts: 1,
			})
			_, err := c.ListFoundationModels(context.Background(), &bedrock.ListFoundationModelsInput{})
			if got := result(err).Code; got != tc.want {
				t.Errorf("ListFoundationModels = %v, want %s", err, tc.want)
			}
		})
	}
}

// TestAPIKeyPermission checks that a Bedrock API key works only for a
// principal allowed bedrock:CallWithBearerToken, and that
// bedrock:BearerTokenType is LONG_TERM.
func TestAPIKeyPermission(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	call := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/model/"+url.PathEscape(echoModel)+"/converse", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, user string
		policies   []string
		status     int
		msg        string
	}{
		{"no CallWithBearerToken", "keyuser0", []string{allow("bedrock:InvokeModel", "*")}, 403,
			`{"message":"User: arn:aws:iam::` + account + `:user/keyuser0 is not authorized to perform: bedrock:CallWithBearerToken because no identity-based policy allows the bedrock:CallWithBearerToken action"}`},
		{"allowed", "keyuser1", []string{allow(`["bedrock:InvokeModel","bedrock:CallWithBearerToken"]`, "*")}, 200, ""},
		{"long-term keys denied", "keyuser2", []string{allow("bedrock:*", "*"),
			stmt("Deny", "Action", `"bedrock:CallWithBearerToken"`, "Resource", `"*"`, `{"StringEquals":{"bedrock:bearerTokenType":"LONG_TERM"}}`)}, 403,
			`{"message":"User: arn:aws:iam::` + account + `:user/keyuser2 is not authorized to perform: bedrock:CallWithBearerToken with an explicit deny in an identity-based policy"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newUser(t, srv, tc.user, nil, tc.policies...)
			token, _, err := srv.Srv.IAM().CreateAPIKey(ctx, tc.user, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			status, msg := call(token)
			if status != tc.status || (tc.msg != "" && msg != tc.msg) {
				t.Errorf("Converse with API key = %d %s, want %d %s", status, msg, tc.status, tc.msg)
			}
		})
	}
}
