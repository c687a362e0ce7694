package invlog

import (
	"strings"
	"testing"
)

// Generated images are image data: with imageDataDeliveryEnabled off they
// are left out of the image families' responses, and the rest is kept.
func TestFilterImageResponses(t *testing.T) {
	for _, body := range []string{
		`{"images":["iVBORw0KGgoAAAA"],"error":null}`,
		`{"result":"success","artifacts":[{"seed":7,"base64":"iVBORw0KGgoAAAA","finishReason":"SUCCESS"}]}`,
		`{"seeds":[7],"finish_reasons":[null],"images":["iVBORw0KGgoAAAA"]}`,
	} {
		got := string(filterBody([]byte(body), true, false))
		if strings.Contains(got, "iVBORw0KGgo") || !strings.Contains(got, "image data not delivered") {
			t.Errorf("filterBody(%s) = %s, want the image replaced", body, got)
		}
		if strings.Contains(body, `"seed"`) && !strings.Contains(got, `"seed":7`) {
			t.Errorf("filterBody(%s) = %s lost the seed", body, got)
		}
		if got := string(filterBody([]byte(body), true, true)); got != body {
			t.Errorf("filterBody with images on = %s, want %s", got, body)
		}
	}
}
