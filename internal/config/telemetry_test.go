package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTelemetry(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Telemetry{}, c.Telemetry); diff != "" {
		t.Errorf("default telemetry is not off (-want +got):\n%s", diff)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("telemetry: {otlpEndpoint: http://collector:4317, protocol: grpc, sampleRatio: 0.25, serviceName: gw}\n"), 0o644)
	if err := c.MergeFile(p); err != nil {
		t.Fatal(err)
	}
	ratio := 0.25
	want := Telemetry{OTLPEndpoint: "http://collector:4317", Protocol: "grpc", SampleRatio: &ratio, ServiceName: "gw"}
	if diff := cmp.Diff(want, c.Telemetry); diff != "" {
		t.Errorf("merged telemetry (-want +got):\n%s", diff)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"protocol", "telemetry: {protocol: http/json}", "telemetry.protocol"},
		{"ratio", "telemetry: {sampleRatio: 1.5}", "telemetry.sampleRatio"},
		{"endpoint", "telemetry: {otlpEndpoint: collector:4318}", "telemetry.otlpEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := Default()
			os.WriteFile(p, []byte(tc.yaml+"\n"), 0o644)
			if err := c.MergeFile(p); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error about %s", err, tc.want)
			}
		})
	}
}
