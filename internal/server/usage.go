package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
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
func (s *Server) FlushUsage(ctx context.Context) error {
	s.settled()
	return s.meter.Flush(ctx)
}

// usageOperation is Outcrop's own usage report, GET /outcrop/usage: signed
// like any Bedrock call and authorized as outcrop:GetUsage on "*".
var usageOperation = awsapi.Operation{Name: "GetUsage", Method: "GET", URI: "/outcrop/usage", SuccessCode: 200}

// getUsage answers GET /outcrop/usage?from=YYYY-MM-DD&to=…&groupBy=model,principal
// &model=…&principal=…&key=… with the usage and cost rows, after writing
// the counters still in memory.
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.iam.Authorize(ctx, reqctx.PrincipalFrom(ctx), "outcrop:GetUsage", "*"); err != nil {
		return err
	}
	q := r.URL.Query()
	f := usage.Filter{From: q.Get("from"), To: q.Get("to"), Model: q.Get("model"), Principal: q.Get("principal"), Key: q.Get("key")}
	for name, d := range map[string]string{"from": f.From, "to": f.To} {
		if d != "" {
			if _, err := time.Parse("2006-01-02", d); err != nil {
				return fault.Newf(fault.Invalid, "%s %q is not a date (YYYY-MM-DD).", name, d)
			}
		}
	}
	dims := []string{"day", "model", "principal", "key"}
	if g := q.Get("groupBy"); g != "" {
		dims = strings.Split(g, ",")
	}
	if err := s.FlushUsage(ctx); err != nil {
		return err
	}
	rows, err := s.store.Usage(ctx, f)
	if err != nil {
		return err
	}
	if rows, err = usage.GroupBy(rows, dims...); err != nil {
		return fault.New(fault.Invalid, "groupBy: want a comma-separated list of day, model, principal and key.")
	}
	type row struct {
		usage.Row
		Cost float64 `json:"cost"`
	}
	out := struct {
		From    string   `json:"from,omitempty"`
		To      string   `json:"to,omitempty"`
		GroupBy []string `json:"groupBy"`
		Rows    []row    `json:"rows"`
	}{From: f.From, To: f.To, GroupBy: dims, Rows: make([]row, len(rows))}
	for i, r := range rows {
		out.Rows[i] = row{r, r.Cost()}
	}
	return restjson.WriteJSON(w, http.StatusOK, out)
}
