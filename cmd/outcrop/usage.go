package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
)

// usageCmd reports usage and cost from the database in the data directory,
// like `outcrop audit`. The server adds its counters every 2 seconds.
func usageCmd(g *globalFlags) *cobra.Command {
	var (
		f      usage.Filter
		by     string
		since  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Report model usage and cost by model, principal, key and day",
		Example: `  outcrop usage                          # this month, by model
  outcrop usage --by principal,model --since 7d
  outcrop usage --by day --key AKIA... --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			if since != "" {
				d, err := parseDays(since)
				if err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				f.From = now.Add(-d).Format("2006-01-02")
			}
			if f.From == "" {
				f.From = now.Format("2006-01") + "-01"
			}
			for _, d := range []*string{&f.From, &f.To} {
				if *d != "" {
					if _, err := time.Parse("2006-01-02", *d); err != nil {
						return fmt.Errorf("day %q: want YYYY-MM-DD", *d)
					}
				}
			}
			st, err := sqlite.Open(cmd.Context(), filepath.Join(c.DataDir, "outcrop.db"))
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.Usage(cmd.Context(), f)
			if err != nil {
				return err
			}
			dims := strings.Split(by, ",")
			if rows, err = usage.GroupBy(rows, dims...); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				type jsonRow struct {
					usage.Row
					Cost float64 `json:"cost"`
				}
				jr := make([]jsonRow, len(rows))
				for i, r := range rows {
					jr[i] = jsonRow{r, r.Cost()}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"from": f.From, "to": f.To, "groupBy": dims, "rows": jr})
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
			var head []string
			for _, d := range dims {
				head = append(head, strings.ToUpper(d))
			}
			fmt.Fprintln(tw, strings.Join(head, "\t")+"\tREQUESTS\tINPUT TOKENS\tOUTPUT TOKENS\tIMAGES\tCOST (USD)\t")
			var total usage.Row
			for _, r := range rows {
				var cells []string
				for _, d := range dims {
					cells = append(cells, map[string]string{"day": r.Day, "model": r.Model, "principal": r.Principal, "key": r.Key}[d])
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.6f\t\n", strings.Join(cells, "\t"), r.Requests, r.InputTokens, r.OutputTokens, r.Images, r.Cost())
				total.Requests += r.Requests
				total.InputTokens += r.InputTokens
				total.OutputTokens += r.OutputTokens
				total.Images += r.Images
				total.CostMicros += r.CostMicros
			}
			fmt.Fprintf(tw, "TOTAL%s\t%d\t%d\t%d\t%d\t%.6f\t\n", strings.Repeat("\t", len(dims)-1), total.Requests, total.InputTokens, total.OutputTokens, total.Images, total.Cost())
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&by, "by", "model", "group by any of day, model, principal, key (comma-separated)")
	fl.StringVar(&f.From, "from", "", "first day, YYYY-MM-DD (default: the first of this month, UTC)")
	fl.StringVar(&f.To, "to", "", "last day, YYYY-MM-DD (default: today)")
	fl.StringVar(&since, "since", "", "the last N days, e.g. 7d (instead of --from)")
	fl.StringVar(&f.Model, "model", "", "only this model ID")
	fl.StringVar(&f.Principal, "principal", "", "only this principal (root, user name or role/<name>)")
	fl.StringVar(&f.Key, "key", "", "only this access key or API key ID")
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// parseDays accepts "7d" as well as Go durations such as "48h".
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var d int
		if _, err := fmt.Sscanf(n, "%d", &d); err != nil || d < 0 {
			return 0, fmt.Errorf("%q: want a number of days such as 7d", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
