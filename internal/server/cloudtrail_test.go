package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/outcroptest"
)

func cloudTrailClient(srv *outcroptest.Server, id, secret string) *cloudtrail.Client {
	return cloudtrail.New(cloudtrail.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:       &http.Client{Transport: outcroptest.BodyCopyTransport{}},
		RetryMaxAttempts: 1,
	})
}

func attr(k ct.LookupAttributeKey, v string) []ct.LookupAttribute {
	return []ct.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}
}

// TestLookupEvents queries the audit trail with the real CloudTrail client:
// every lookup attribute, time ranges, pagination, the documented
// validation errors, and authorization as cloudtrail:LookupEvents.
func TestLookupEvents(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	alice := newUser(t, srv, "alice", nil, allow("bedrock:InvokeModel", "*"))
	auditor := newUser(t, srv, "auditor", nil, allow("cloudtrail:LookupEvents", "*"))

	root := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	for range 3 {
		if _, err := root.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("lookup-canary")}); err != nil {
			t.Fatal(err)
		}
	}
	ac := runtimeClient(srv, alice.ID, alice.Secret)
	if _, err := ac.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("lookup-canary")}); err != nil {
		t.Fatal(err)
	}
	// alice may not look events up.
	_, err := cloudTrailClient(srv, alice.ID, alice.Secret).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if code, status := apiError(t, err); code != "AccessDeniedException" || status != 400 {
		t.Errorf("alice LookupEvents = %s %d, want AccessDeniedException 400", code, status)
	}

	c := cloudTrailClient(srv, auditor.ID, auditor.Secret)
	out, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range out.Events {
		names = append(names, aws.ToString(e.EventName)+"/"+aws.ToString(e.Username))
	}
	// Newest first; alice's refused lookup is recorded too.
	want := []string{"LookupEvents/alice", "Converse/alice", "Converse/root", "Converse/root", "Converse/root"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if out.NextToken != nil {
		t.Errorf("NextToken = %q on the only page", *out.NextToken)
	}

	denied, conv := out.Events[0], out.Events[1]
	if got := aws.ToString(denied.EventSource); got != "cloudtrail.amazonaws.com" {
		t.Errorf("LookupEvents EventSource = %q", got)
	}
	if aws.ToString(conv.EventSource) != "bedrock.amazonaws.com" || aws.ToString(conv.ReadOnly) != "true" || aws.ToString(conv.AccessKeyId) != alice.ID {
		t.Errorf("Converse event = source %q readOnly %q key %q", aws.ToString(conv.EventSource), aws.ToString(conv.ReadOnly), aws.ToString(conv.AccessKeyId))
	}
	if et := aws.ToTime(conv.EventTime); et.Before(start.Truncate(time.Second)) || et.After(time.Now()) {
		t.Errorf("EventTime = %v, want after %v", et, start)
	}
	wantRes := []ct.Resource{{ResourceType: aws.String("AWS::Bedrock::Model"), ResourceName: aws.String("arn:aws:bedrock:us-east-1::foundation-model/" + echoModel)}}
	if diff := cmp.Diff(wantRes, conv.Resources, cmp.AllowUnexported(ct.Resource{})); diff != "" {
		t.Errorf("Resources (-want +got):\n%s", diff)
	}
	var rec struct {
		EventID      string `json:"eventID"`
		EventName    string `json:"eventName"`
		ErrorCode    string `json:"errorCode"`
		UserIdentity struct {
			UserName string `json:"userName"`
		} `json:"userIdentity"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(denied.CloudTrailEvent)), &rec); err != nil {
		t.Fatalf("CloudTrailEvent: %v", err)
	}
	if rec.EventID != aws.ToString(denied.EventId) || rec.EventName != "LookupEvents" || rec.ErrorCode != "AccessDeniedException" || rec.UserIdentity.UserName != "alice" {
		t.Errorf("CloudTrailEvent = %+v", rec)
	}

	count := func(in *cloudtrail.LookupEventsInput) int {
		t.Helper()
		out, err := c.LookupEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Events)
	}
	for _, tc := range []struct {
		name string
		in   cloudtrail.LookupEventsInput
		want int
	}{
		// The auditor's own lookups are recorded as they happen: one
		// before this table, then one per case.
		{"EventName", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyEventName, "Converse")}, 4},
		{"EventId", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyEventId, aws.ToString(conv.EventId))}, 1},
		{"Username", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyUsername, "alice")}, 2},
		{"Username root", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyUsername, "root")}, 3},
		{"AccessKeyId", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyAccessKeyId, srv.Key.ID)}, 3},
		{"ResourceName ID", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyResourceName, echoModel)}, 4},
		{"ResourceType", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyResourceType, "AWS::Bedrock::Model")}, 4},
		{"EventSource", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyEventSource, "cloudtrail.amazonaws.com")}, 9},
		{"ReadOnly false", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyReadOnly, "false")}, 0},
		{"ReadOnly true", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyReadOnly, "true")}, 15},
		{"future", cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now().Add(time.Hour))}, 0},
		{"past", cloudtrail.LookupEventsInput{EndTime: aws.Time(start.Add(-time.Hour))}, 0},
		{"range", cloudtrail.LookupEventsInput{StartTime: aws.Time(start), EndTime: aws.Time(time.Now().Add(time.Minute)),
			LookupAttributes: attr(ct.LookupAttributeKeyEventName, "Converse")}, 4},
		{"insight", cloudtrail.LookupEventsInput{EventCategory: ct.EventCategoryInsight}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(&tc.in); got != tc.want {
				t.Errorf("LookupEvents(%s) = %d events, want %d", tc.name, got, tc.want)
			}
		})
	}

	// Pagination: pages of 2 over the Converse calls, newest first, with
	// no event twice, while new calls are recorded between pages.
	var seen []string
	in := &cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyEventName, "Converse"), MaxResults: aws.Int32(3)}
	pages := 0
	for p := cloudtrail.NewLookupEventsPaginator(c, in); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range out.Events {
			seen = append(seen, aws.ToString(e.Username))
		}
		if _, err := root.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("later")}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"alice", "root", "root", "root"}, seen); diff != "" || pages != 2 {
		t.Errorf("paginated Converse events over %d pages (-want +got):\n%s", pages, diff)
	}

	first, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("LookupEvents(MaxResults 1) = %v, %v", first, err)
	}
	for _, tc := range []struct {
		name string
		in   cloudtrail.LookupEventsInput
		want string
	}{
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: append(attr(ct.LookupAttributeKeyEventName, "Converse"), attr(ct.LookupAttributeKeyUsername, "root")...)}, "InvalidLookupAttributesException"},
		{"unknown key", cloudtrail.LookupEventsInput{LookupAttributes: attr("Color", "blue")}, "InvalidLookupAttributesException"},
		{"empty value", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyEventName, "")}, "InvalidLookupAttributesException"},
		{"readOnly value", cloudtrail.LookupEventsInput{LookupAttributes: attr(ct.LookupAttributeKeyReadOnly, "yes")}, "InvalidLookupAttributesException"},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: aws.Time(start), EndTime: aws.Time(start.Add(-time.Minute))}, "InvalidTimeRangeException"},
		{"max 51", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"max 0", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
		{"garbage token", cloudtrail.LookupEventsInput{NextToken: aws.String("garbage")}, "InvalidNextTokenException"},
		{"token of another query", cloudtrail.LookupEventsInput{NextToken: first.NextToken, LookupAttributes: attr(ct.LookupAttributeKeyUsername, "root")}, "InvalidNextTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.LookupEvents(ctx, &tc.in)
			if code, status := apiError(t, err); code != tc.want || status != 400 {
				t.Errorf("LookupEvents(%s) = %s %d, want %s 400", tc.name, code, status, tc.want)
			}
		})
	}
	// The token works with the parameters it was issued for.
	if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1), NextToken: first.NextToken}); err != nil {
		t.Errorf("LookupEvents(NextToken) = %v", err)
	}
	// A Bedrock-signed request is refused: LookupEvents is signed for cloudtrail.
	req, _ := http.NewRequest("POST", srv.URL+"/", nil)
	req.Header.Set("X-Amz-Target", "CloudTrail_20131101.LookupEvents")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned LookupEvents = %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
}
