package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

// openIAM opens the data directory's store for local key administration.
func openIAM(cmd *cobra.Command, g *globalFlags) (*iam.Service, func(), error) {
	c, err := g.load()
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(cmd.Context(), filepath.Join(c.DataDir, "outcrop.db"))
	if err != nil {
		return nil, nil, err
	}
	return iam.New(iam.Options{Store: st, Directory: st, AccountID: c.AccountID, ModelAccessDefault: c.ModelAccess.Default == "enabled"}), func() { st.Close() }, nil
}

func keysCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke access keys and Bedrock API keys in the data directory"}
	var user string
	var expires time.Duration
	expiry := func() time.Time {
		if expires <= 0 {
			return time.Time{}
		}
		return time.Now().Add(expires).UTC().Truncate(time.Second)
	}
	create := &cobra.Command{
		Use: "create", Short: "Create an access key pair (SigV4)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, done, err := openIAM(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			k, err := s.CreateAccessKey(cmd.Context(), user, expiry())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n", k.ID, k.Secret)
			return nil
		},
	}
	createAPI := &cobra.Command{
		Use: "create-api-key", Short: "Create a Bedrock API key (Authorization: Bearer)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, done, err := openIAM(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			token, k, err := s.CreateAPIKey(cmd.Context(), user, expiry())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# API key %s (shown once)\nexport AWS_BEARER_TOKEN_BEDROCK=%s\n", k.ID, token)
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, createAPI} {
		c.Flags().StringVar(&user, "user", iam.RootUser, `owner of the key: "root", a user name, or "role/NAME" (see outcrop iam)`)
		c.Flags().DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default: never expires)")
	}
	list := &cobra.Command{
		Use: "list", Short: "List keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, done, err := openIAM(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			st := s.Store()
			aks, err := st.AccessKeys(cmd.Context())
			if err != nil {
				return err
			}
			apis, err := st.APIKeys(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tUSER\tSTATUS\tCREATED\tEXPIRES")
			for _, k := range aks {
				fmt.Fprintf(tw, "%s\taccess-key\t%s\t%s\t%s\t%s\n", k.ID, k.User, status(k.Active, k.Expires), k.Created.Format(time.RFC3339), never(k.Expires))
			}
			for _, k := range apis {
				fmt.Fprintf(tw, "%s\tapi-key\t%s\t%s\t%s\t%s\n", k.ID, k.User, status(k.Active, k.Expires), k.Created.Format(time.RFC3339), never(k.Expires))
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an access key or API key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := openIAM(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			if err := s.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, createAPI, list, revoke)
	return cmd
}

func status(active bool, exp time.Time) string {
	switch {
	case !active:
		return "revoked"
	case !exp.IsZero() && time.Now().After(exp):
		return "expired"
	}
	return "active"
}

func never(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}
