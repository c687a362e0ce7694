// Command outcrop is Outcrop's one binary: `outcrop serve` runs the server;
// the other subcommands administer a local data directory (keys, models).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "outcrop:", err)
		os.Exit(1)
	}
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "outcrop",
		Short:         "A self-hosted generative-AI platform that speaks Amazon Bedrock's APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var g globalFlags
	g.register(root)
	root.AddCommand(serveCmd(&g), keysCmd(&g), iamCmd(&g), modelsCmd(&g), auditCmd(&g), usageCmd(&g), kbCmd(&g))
	return root
}
