package main

import (
	"fmt"
	"net"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/memtrim"
	provall "github.com/outcrop/outcrop/internal/provider/all"
	"github.com/outcrop/outcrop/internal/server"
)

func serveCmd(g *globalFlags) *cobra.Command {
	var cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (Bedrock runtime, control plane and agent APIs on one endpoint)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load()
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if memProfile != "" {
				defer writeHeapProfile(memProfile)
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
			// Start-up ran every package's init and the migrations; the
			// binary's pages they left resident are not needed again.
			if st, err := memtrim.Trim(); err != nil {
				log.Warn("could not trim start-up pages", "err", err)
			} else {
				log.Debug("trimmed start-up pages", "mappings", st.Mappings, "bytes", st.Bytes, "skipped", st.Skipped)
			}
			return srv.Serve(ctx, ln)
		},
	}
	// Benchmarking aids (docs/performance.md), hidden from the help: the
	// profiles cover the whole run and are written when the server stops.
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile of the whole run to this file")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	_ = cmd.Flags().MarkHidden("memprofile")
	return cmd
}

// startCPUProfile starts the runtime's CPU profiler writing to path and
// returns the function that stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes the heap profile (which also holds every
// allocation since the start) to path; a failure is reported on stderr,
// since the server has already stopped.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "outcrop: memory profile:", err)
	}
}
