package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/arn"
	"github.com/outcrop/outcrop/internal/catalog"
)

func modelsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "models", Short: "Inspect the model catalog"}
	cat := func() (*catalog.Catalog, error) {
		c, err := g.load()
		if err != nil {
			return nil, err
		}
		return catalog.New(c.Region, c.Models, catalog.Validator{})
	}
	list := &cobra.Command{
		Use: "list", Short: "List catalog models and the backend serving each", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cat()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL ID\tFAMILY\tBACKEND\tBACKEND MODEL")
			for _, m := range c.List() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.Family, m.Backend, m.BackendModel)
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use: "show MODEL-ID", Short: "Show a model's catalog entry and capabilities (ID, inference-profile ID or ARN)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cat()
			if err != nil {
				return err
			}
			m, err := c.Lookup(args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out := struct {
				*catalog.Model
				ARN string `json:"modelArn"`
			}{m, arn.FoundationModelARN(c.Region(), m.ID)}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}
