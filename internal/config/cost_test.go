package config

import "testing"

// Every model of the default catalog has a price, and the local models
// are free.
func TestDefaultPrices(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Models {
		p, ok := c.Prices[m.ID]
		if !ok {
			t.Errorf("no price for %s", m.ID)
		}
		if m.Backend == "local" && len(m.ID) > 8 && m.ID[:8] == "outcrop." && (p != Price{}) {
			t.Errorf("%s costs %+v", m.ID, p)
		}
	}
	if p := c.Prices["anthropic.claude-3-haiku-20240307-v1:0"]; p.InputPer1K != 0.00025 || p.OutputPer1K != 0.00125 {
		t.Errorf("haiku price %+v", p)
	}
	c.Budgets = []Budget{{Key: "AKIA", Limit: 1, Action: "stop"}}
	if err := c.Validate(); err == nil {
		t.Error("action stop accepted")
	}
	c.Budgets = []Budget{{Key: "AKIA", Principal: "bob", Limit: 1}}
	if err := c.Validate(); err == nil {
		t.Error("budget with both principal and key accepted")
	}
}
