package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// globalFlags are shared by every subcommand that reads the configuration.
type globalFlags struct {
	configFile string
	dataDir    string
	modelsDir  string
	listen     string
	region     string
	logLevel   string
	logFormat  string
	authMode   string
}

func (g *globalFlags) register(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&g.configFile, "config", "", "YAML config file merged over the built-in defaults (env OUTCROP_CONFIG)")
	f.StringVar(&g.dataDir, "data-dir", "", "data directory (env OUTCROP_DATA_DIR; default $XDG_DATA_HOME/outcrop or ~/.local/share/outcrop)")
	f.StringVar(&g.modelsDir, "models-dir", "", "model weights directory (env OUTCROP_MODELS_DIR; default <data-dir>/models)")
	f.StringVar(&g.listen, "listen", "", "listen address (env OUTCROP_LISTEN; default 127.0.0.1:4280)")
	f.StringVar(&g.region, "region", "", "region in ARNs and credential scopes (env OUTCROP_REGION; default us-east-1)")
	f.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env OUTCROP_LOG_LEVEL)")
	f.StringVar(&g.logFormat, "log-format", "", "json or text (env OUTCROP_LOG_FORMAT)")
	f.StringVar(&g.authMode, "auth-mode", "", `sigv4, or "any" to accept any credentials (local testing only) (env OUTCROP_AUTH_MODE)`)
}

// load builds the configuration: defaults, file, environment, flags.
func (g *globalFlags) load() (*config.Config, error) {
	c, err := config.Default()
	if err != nil {
		return nil, err
	}
	file := g.configFile
	if file == "" {
		file = os.Getenv("OUTCROP_CONFIG")
	}
	if file != "" {
		if err := c.MergeFile(file); err != nil {
			return nil, err
		}
	}
	if err := c.MergeEnv(os.Getenv); err != nil {
		return nil, err
	}
	for _, kv := range []struct {
		dst *string
		v   string
	}{{&c.DataDir, g.dataDir}, {&c.ModelsDir, g.modelsDir}, {&c.Listen, g.listen}, {&c.Region, g.region},
		{&c.LogLevel, g.logLevel}, {&c.LogFormat, g.logFormat}, {&c.Auth.Mode, g.authMode}} {
		if kv.v != "" {
			*kv.dst = kv.v
		}
	}
	return c, c.Validate()
}

func newLogger(c *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(c.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
	if c.LogFormat == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	return slog.New(reqctx.LogHandler(h))
}
