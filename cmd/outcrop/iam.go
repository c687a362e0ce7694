package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/iam/policy"
)

// iamCmd administers users, roles, policies and tags in the data directory
// directly, like `outcrop keys`. A running server sees the changes within
// its key cache lifetime (2 s by default).
func iamCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "iam", Short: "Manage IAM users, roles, policies and tags, and simulate policies"}
	// with opens the data directory, runs f and closes it.
	with := func(f func(cmd *cobra.Command, s *iam.Service, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			s, done, err := openIAM(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			return f(cmd, s, args)
		}
	}
	printf := func(cmd *cobra.Command, format string, args ...any) { fmt.Fprintf(cmd.OutOrStdout(), format, args...) }

	createEntity := func(use string, k iam.Kind) *cobra.Command {
		return &cobra.Command{Use: use + " NAME", Short: "Create an IAM " + string(k), Args: cobra.ExactArgs(1),
			RunE: with(func(cmd *cobra.Command, s *iam.Service, args []string) error {
				create := s.CreateUser
				if k == iam.Role {
					create = s.CreateRole
				}
				e, err := create(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				printf(cmd, "created %s %s (%s)\n", k, s.EntityARN(k, e.Name), e.ID)
				return nil
			})}
	}
	deleteEntity := func(use string, k iam.Kind) *cobra.Command {
		return &cobra.Command{Use: use + " NAME", Short: "Delete an IAM " + string(k) + " with its policies and tags, revoking its keys", Args: cobra.ExactArgs(1),
			RunE: with(func(cmd *cobra.Command, s *iam.Service, args []string) error {
				if err := s.DeleteEntity(cmd.Context(), ownerRef(k, args[0])); err != nil {
					return err
				}
				printf(cmd, "deleted %s %s\n", k, args[0])
				return nil
			})}
	}
	list := &cobra.Command{Use: "list-users", Aliases: []string{"list-roles"}, Short: "List users and roles", Args: cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, s *iam.Service, _ []string) error {
			es, err := s.Entities(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tID\tARN\tCREATED\tTAGS")
			for _, e := range es {
				tags, err := s.EntityTags(cmd.Context(), e.Ref())
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, e.ID, s.EntityARN(e.Kind, e.Name), e.Created.Format(time.RFC3339), formatTags(tags))
			}
			return tw.Flush()
		})}

	// Policies.
	var user, role, name, file, policyName string
	target := func(c *cobra.Command) {
		c.Flags().StringVar(&user, "user", "", "user name")
		c.Flags().StringVar(&role, "role", "", "role name")
	}
	owner := func() (string, error) {
		switch {
		case user != "" && role != "":
			return "", fmt.Errorf("give --user or --role, not both")
		case role != "":
			return ownerRef(iam.Role, role), nil
		case user != "":
			return user, nil
		}
		return "", fmt.Errorf("give --user or --role")
	}
	readDoc := func(cmd *cobra.Command) (string, error) {
		if file == "" {
			return "", fmt.Errorf("--file is required (a JSON policy document, - for stdin)")
		}
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(cmd.InOrStdin())
		} else {
			b, err = os.ReadFile(file)
		}
		return string(b), err
	}
	putPolicy := &cobra.Command{Use: "put-user-policy", Aliases: []string{"put-role-policy"}, Short: "Add or replace an inline policy of a user (--user) or role (--role) from a JSON file", Args: cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, s *iam.Service, _ []string) error {
			o, err := owner()
			if err != nil {
				return err
			}
			doc, err := readDoc(cmd)
			if err != nil {
				return err
			}
			if err := s.PutInlinePolicy(cmd.Context(), o, name, doc); err != nil {
				return err
			}
			printf(cmd, "put inline policy %s on %s\n", name, o)
			return nil
		})}
	target(putPolicy)
	putPolicy.Flags().StringVar(&name, "name", "", "policy name")
	putPolicy.Flags().StringVar(&file, "file", "", "policy document (JSON file, - for stdin)")

	createPolicy := &cobra.Command{Use: "create-policy", Short: "Create a customer managed policy from a JSON file", Args: cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, s *iam.Service, _ []string) error {
			doc, err := readDoc(cmd)
			if err != nil {
				return err
			}
			arn, err := s.CreatePolicy(cmd.Context(), name, doc)
			if err != nil {
				return err
			}
			printf(cmd, "created policy %s\n", arn)
			return nil
		})}
	createPolicy.Flags().StringVar(&name, "name", "", "policy name")
	createPolicy.Flags().StringVar(&file, "file", "", "policy document (JSON file, - for stdin)")

	attach := func(use string, on bool) *cobra.Command {
		c := &cobra.Command{Use: use, Short: use + " a managed policy (--policy NAME or ARN) to a user or role", Args: cobra.NoArgs,
			RunE: with(func(cmd *cobra.Command, s *iam.Service, _ []string) error {
				o, err := owner()
				if err != nil {
					return err
				}
				if err := s.Attach(cmd.Context(), o, policyName, on); err != nil {
					return err
				}
				printf(cmd, "%sed %s for %s\n", strings.TrimSuffix(use, "-policy"), policyName, o)
				return nil
			})}
		target(c)
		c.Flags().StringVar(&policyName, "policy", "", "managed policy name or ARN")
		return c
	}
	deletePolicy := &cobra.Command{Use: "delete-policy", Short: "Delete an inline policy (with --user or --role) or a managed policy", Args: cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, s *iam.Service, _ []string) error {
			o := ""
			if user != "" || role != "" {
				var err error
				if o, err = owner(); err != nil {
					return err
				}
			}
			if err := s.DeletePolicy(cmd.Context(), o, name); err != nil {
				return err
			}
			printf(cmd, "deleted policy %s\n", name)
			return nil
		})}
	target(deletePolicy)
	deletePolicy.Flags().StringVar(&name, "name", "", "policy name (or managed policy ARN)")

	var showDocs bool
	listPolicies := &cobra.Command{Use: "list-policies", Short: "List policies: all, or those of --user or --role", Args: cobra.NoArgs,
		RunE: with(func(cmd *cobra.Command, s *iam.Service, _ []string) error {
			o := ""
			if user != "" || role != "" {
				var err error
				if o, err = owner(); err != nil {
					return err
				}
			}
			docs, err := s.Policies(cmd.Context())
			if err != nil {
				return err
			}
			atts, err := s.Attachments(cmd.Context())
			if err != nil {
				return err
			}
			attachedTo := map[string][]string{}
			for _, a := range atts {
				attachedTo[a.Policy] = append(attachedTo[a.Policy], a.Owner)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tOWNER / ATTACHED TO\tCREATED")
			for _, d := range docs {
				kind, who := "inline", d.Owner
				if d.Owner == "" {
					kind, who = "managed", strings.Join(attachedTo[d.Name], ",")
					if o != "" && !contains(attachedTo[d.Name], o) {
						continue
					}
				} else if o != "" && d.Owner != o {
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, kind, dash(who), d.Created.Format(time.RFC3339))
				if showDocs {
					fmt.Fprintf(tw, "%s\n", d.Document)
				}
			}
			return tw.Flush()
		})}
	target(listPolicies)
	listPolicies.Flags().BoolVar(&showDocs, "documents", false, "print each policy document")

	tagCmd := func(use string, k iam.Kind, untag bool) *cobra.Command {
		short, args := "Add or replace tags (KEY=VALUE…) on a "+string(k), "NAME KEY=VALUE..."
		if untag {
			short, args = "Remove tags (KEY…) from a "+string(k), "NAME KEY..."
		}
		return &cobra.Command{Use: use + " " + args, Short: short, Args: cobra.MinimumNArgs(2),
			RunE: with(func(cmd *cobra.Command, s *iam.Service, args []string) error {
				add := map[string]string{}
				var remove []string
				for _, a := range args[1:] {
					if untag {
						remove = append(remove, a)
						continue
					}
					kk, v, ok := strings.Cut(a, "=")
					if !ok || kk == "" {
						return fmt.Errorf("tag %q: want KEY=VALUE", a)
					}
					add[kk] = v
				}
				if err := s.TagEntity(cmd.Context(), ownerRef(k, args[0]), add, remove); err != nil {
					return err
				}
				tags, err := s.EntityTags(cmd.Context(), ownerRef(k, args[0]))
				if err != nil {
					return err
				}
				printf(cmd, "%s %s tags: %s\n", k, args[0], formatTags(tags))
				return nil
			})}
	}

	cmd.AddCommand(createEntity("create-user", iam.User), deleteEntity("delete-user", iam.User),
		createEntity("create-role", iam.Role), deleteEntity("delete-role", iam.Role), list,
		putPolicy, createPolicy, attach("attach-policy", true), attach("detach-policy", false), deletePolicy, listPolicies,
		tagCmd("tag-user", iam.User, false), tagCmd("untag-user", iam.User, true),
		tagCmd("tag-role", iam.Role, false), tagCmd("untag-role", iam.Role, true),
		simulateCmd(g))
	return cmd
}

// simulateCmd answers "would this principal be allowed, and which statement
// decided" with the principal's stored policies and the context keys the
// server would supply, plus --context overrides.
func simulateCmd(g *globalFlags) *cobra.Command {
	var user, role, action, resource string
	var kvs []string
	c := &cobra.Command{Use: "simulate", Short: "Simulate a request: --user U (or --role R) --action A --resource R [--context key=value ...]", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (user == "") == (role == "") || action == "" {
				return fmt.Errorf("give --action and one of --user or --role")
			}
			s, done, err := openIAM(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			o := user
			if role != "" {
				o = ownerRef(iam.Role, role)
			}
			if o == iam.RootUser {
				fmt.Fprintln(cmd.OutOrStdout(), "decision: allowed\ndecided by: the account root user, which policies do not restrict")
				return nil
			}
			pols, err := s.CompiledPolicies(cmd.Context(), o)
			if err != nil {
				return err
			}
			req := policy.Request{Action: action, Resource: resource}
			if req.Context, err = s.RequestContext(cmd.Context(), s.Principal(o, "simulator"), resource); err != nil {
				return err
			}
			over := map[string][]string{}
			var order []string
			for _, kv := range kvs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--context %q: want key=value", kv)
				}
				if over[k] == nil {
					order = append(order, k)
				}
				over[k] = append(over[k], v)
			}
			for _, k := range order {
				req.Context.Set(k, over[k]...)
			}
			fmt.Fprint(cmd.OutOrStdout(), policy.Simulate(&req, pols...).Report())
			return nil
		}}
	c.Flags().StringVar(&user, "user", "", "user name (or root)")
	c.Flags().StringVar(&role, "role", "", "role name")
	c.Flags().StringVar(&action, "action", "", "IAM action, e.g. bedrock:InvokeModel")
	c.Flags().StringVar(&resource, "resource", "*", "resource ARN")
	c.Flags().StringArrayVar(&kvs, "context", nil, "condition key=value (repeat; a repeated key is multivalued), e.g. aws:SourceIp=10.0.0.1")
	return c
}

func ownerRef(k iam.Kind, name string) string {
	if k == iam.Role {
		return "role/" + name
	}
	return name
}

func formatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + tags[k]
	}
	return dash(strings.Join(keys, ","))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
