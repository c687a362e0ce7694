package server

import (
	"context"

	"github.com/outcrop/outcrop/internal/usage"
)

// newMeter starts usage accounting over the configured price table and
// budgets, stored in the server's database (docs/usage.md).
func (s *Server) newMeter() *usage.Meter {
	c := s.opts.Config
	prices := make(map[string]usage.Price, len(c.Prices))
	for id, p := range c.Prices {
		prices[id] = usage.Price{InputPer1K: p.InputPer1K, OutputPer1K: p.OutputPer1K, PerImage: p.PerImage}
	}
	var budgets []usage.Budget
	for _, b := range c.Budgets {
		u := usage.Budget{Scope: "principal", Name: b.Principal, Limit: b.Limit, Period: b.Period, Block: b.Action == "block"}
		if b.Key != "" {
			u.Scope, u.Name = "key", b.Key
		}
		if u.Period == "" {
			u.Period = "day"
		}
		budgets = append(budgets, u)
	}
	return usage.New(usage.Options{Store: s.store, Prices: prices, Budgets: budgets, Now: s.opts.Now,
		Logger: s.log.With("component", "usage"), Registerer: s.reg})
}

// FlushUsage writes the usage counted so far to the database.
func (s *Server) FlushUsage(ctx context.Context) error { return s.meter.Flush(ctx) }
