package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	familyall "github.com/outcrop/outcrop/internal/family/all"
	provall "github.com/outcrop/outcrop/internal/provider/all"
	"github.com/outcrop/outcrop/internal/server"
)

func serveCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the server (Bedrock runtime, control plane and agent APIs on one endpoint)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			log := newLogger(c)
			ctx := cmd.Context()
			srv, err := server.New(ctx, server.Options{
				Config: c, Logger: log, Providers: provall.Providers, Families: familyall.Families, Stdout: os.Stdout,
			})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", c.Listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			return srv.Serve(ctx, ln)
		},
	}
}
