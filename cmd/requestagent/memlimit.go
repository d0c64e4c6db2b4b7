package main

import (
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/agent"
)

// memoryBase is what the process holds beyond the budgets it is given:
// the runtime, Badger's memtables and caches, the connections' buffers
// and goroutines (docs/limits.md, "What each costs").
const memoryBase = 512 << 20

// memoryLimit is the Go soft memory limit the agent runs under, in bytes
// (-1: none). Its budgets bound the live memory; without a limit Go's
// collector lets the heap grow to about twice that before it collects,
// so by default the limit is the budgets (live requests, bytes being
// read, bytes queued for writing) plus memoryBase. GOMEMLIMIT in
// the environment takes precedence, as Go's own setting.
func memoryLimit(c *cli.Context, cfg agent.Config) int64 {
	if v := c.Int64("memory-limit"); v != 0 {
		return v
	}
	index := cfg.MaxIndexBytes
	if index == 0 {
		index = agent.DefaultMaxIndexBytes
	}
	if index < 0 {
		return -1 // no budget to derive it from
	}
	g := cfg.GIOP.WithDefaults()
	return index + int64(g.MaxBufferedBytes) + int64(g.MaxQueuedBytes) + memoryBase
}

// setMemoryLimit applies memoryLimit unless GOMEMLIMIT is set, and says
// which limit is in force.
func setMemoryLimit(c *cli.Context, cfg agent.Config, log zerolog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Info().Str("gomemlimit", env).Msg("requestagent: memory limit from GOMEMLIMIT")
		return
	}
	limit := memoryLimit(c, cfg)
	if limit < 0 {
		log.Info().Msg("requestagent: no memory limit")
		return
	}
	debug.SetMemoryLimit(limit)
	log.Info().Int64("memory_limit", limit).Msg("requestagent: memory limit (the collector works harder near it)")
}
