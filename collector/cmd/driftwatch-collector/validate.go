package main

import (
	"context"
	"fmt"
)

func init() {
	commands["validate"] = (*cli).validate
	moreUsage = append(moreUsage, "  driftwatch-collector validate -config FILE")
}

// validate checks the configuration file and says what it sets up.
func (c *cli) validate(_ context.Context, args []string) int {
	var cfgPath string
	fs := c.flags("validate", &cfgPath)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return 2
	}
	cfg := c.load(cfgPath)
	if cfg == nil {
		return 2
	}
	fmt.Fprintf(c.stdout, "%s: valid (listen %s, store %s, %d notify and %d connector blocks)\n",
		cfgPath, cfg.ListenAddr, cfg.Store.Kind, len(cfg.Notify), len(cfg.Connectors))
	return 0
}
