package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/audit"
)

// auditCmd reads the audit trail in the data directory directly, like
// `outcrop iam`; it works while the server runs (records still queued in
// the server are not seen until its writer flushes them, within
// milliseconds).
func auditCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Look up, export and verify the audit trail of API calls"}
	dir := func() (string, error) {
		c, err := g.load()
		if err != nil {
			return "", err
		}
		return filepath.Join(c.DataDir, "audit"), nil
	}
	var (
		start, end, since string
		flt               audit.Filter
		asJSON            bool
	)
	filterFlags := func(c *cobra.Command) {
		f := c.Flags()
		f.StringVar(&start, "start", "", "earliest event time (RFC 3339)")
		f.StringVar(&end, "end", "", "latest event time (RFC 3339)")
		f.StringVar(&since, "since", "", "events of the last duration, e.g. 1h (instead of --start)")
		f.StringVar(&flt.Principal, "principal", "", "caller's ARN, user name, access key ID or principal ID")
		f.StringVar(&flt.EventName, "event-name", "", "operation, e.g. Converse")
		f.StringVar(&flt.Resource, "resource", "", "resource ARN or ID (model ID, guardrail ID, …)")
		f.BoolVar(&flt.ErrorsOnly, "errors", false, "only failed calls")
	}
	parseRange := func() error {
		var err error
		if since != "" {
			d, err := time.ParseDuration(since)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			flt.Start = time.Now().Add(-d)
		}
		if start != "" {
			if flt.Start, err = time.Parse(time.RFC3339, start); err != nil {
				return fmt.Errorf("--start: %w", err)
			}
		}
		if end != "" {
			if flt.End, err = time.Parse(time.RFC3339, end); err != nil {
				return fmt.Errorf("--end: %w", err)
			}
		}
		return nil
	}

	lookup := &cobra.Command{Use: "lookup", Short: "List events, newest first (like CloudTrail LookupEvents)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := dir()
			if err != nil {
				return err
			}
			if err := parseRange(); err != nil {
				return err
			}
			evs, err := audit.Lookup(d, flt)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for i := range evs {
					if err := enc.Encode(&evs[i]); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tEVENT\tPRINCIPAL\tSOURCE IP\tERROR\tRESOURCES\tREQUEST ID")
			for _, e := range evs {
				var res []string
				for _, r := range e.Resources {
					res = append(res, r.ARN)
				}
				who := e.UserIdentity.ARN
				if who == "" {
					who = "(" + strings.ToLower(e.UserIdentity.Type) + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.EventTime, e.EventName, who, e.SourceIPAddress,
					dash(e.ErrorCode), dash(strings.Join(res, ",")), e.RequestID)
			}
			return tw.Flush()
		}}
	filterFlags(lookup)
	lookup.Flags().IntVar(&flt.Max, "max", 50, "at most this many events (0: all)")
	lookup.Flags().BoolVar(&asJSON, "json", false, "print whole events as JSON lines")

	export := &cobra.Command{Use: "export", Short: "Write events as JSON lines, oldest first, in CloudTrail's record shape", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := dir()
			if err != nil {
				return err
			}
			if err := parseRange(); err != nil {
				return err
			}
			_, err = audit.Export(d, flt, cmd.OutOrStdout())
			return err
		}}
	filterFlags(export)

	verify := &cobra.Command{Use: "verify", Short: "Check the hash chain, digests and head; name every edited, inserted or deleted record", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := dir()
			if err != nil {
				return err
			}
			key, err := audit.ReadKey(d)
			if err != nil {
				return fmt.Errorf("digest key: %w", err)
			}
			rep, err := audit.Verify(d, key)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, p := range rep.Problems {
				fmt.Fprintln(out, p.String())
			}
			if !rep.OK() {
				return fmt.Errorf("audit trail does not verify: %d problem(s) in %d record(s), %d digest(s), %d file(s)", len(rep.Problems), rep.Records, rep.Digests, rep.Files)
			}
			fmt.Fprintf(out, "audit trail verified: %d records, %d digests, %d files, last record %d\n", rep.Records, rep.Digests, rep.Files, rep.LastSeq)
			return nil
		}}

	cmd.AddCommand(lookup, export, verify)
	return cmd
}
