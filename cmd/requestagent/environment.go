package main

import (
	"regexp"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// envPrefix starts every environment variable the agent reads.
const envPrefix = "REQUESTAGENT_"

// envNotFlags are the variables the binary reads that are no flag's: the
// crash hook of agent/crashpoint.go, which RELIABILITY.md's drills set.
var envNotFlags = []string{"REQUESTAGENT_CRASH_AT"}

// serviceLink matches what Kubernetes puts in every pod's environment for
// a Service named requestagent (REQUESTAGENT_SERVICE_HOST,
// REQUESTAGENT_PORT, REQUESTAGENT_PORT_14000_TCP_ADDR, …): not settings,
// and not a mistake of the operator's.
var serviceLink = regexp.MustCompile(`^REQUESTAGENT_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT|PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$`)

// strayVar is a REQUESTAGENT_* variable no setting reads, with the known
// one it is likeliest a misspelling of ("" when none is close).
type strayVar struct{ Name, Near string }

// strayEnv returns the variables of environ (as os.Environ gives them)
// that start with REQUESTAGENT_ and that neither a flag of app nor the
// binary reads, sorted by name. A misspelt variable is otherwise ignored
// without a word, and the setting it meant keeps its default.
func strayEnv(app *cli.App, environ []string) []strayVar {
	known := map[string]bool{}
	for _, n := range envNotFlags {
		known[n] = true
	}
	addFlags := func(flags []cli.Flag) {
		for _, f := range flags {
			if e, ok := f.(interface{ GetEnvVars() []string }); ok {
				for _, n := range e.GetEnvVars() {
					known[n] = true
				}
			}
		}
	}
	addFlags(app.Flags)
	var addCommands func([]*cli.Command)
	addCommands = func(cmds []*cli.Command) {
		for _, c := range cmds {
			addFlags(c.Flags)
			addCommands(c.Subcommands)
		}
	}
	addCommands(app.Commands)
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	var stray []strayVar
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || known[name] || serviceLink.MatchString(name) {
			continue
		}
		stray = append(stray, strayVar{Name: name, Near: nearest(name, names)})
	}
	sort.Slice(stray, func(i, j int) bool { return stray[i].Name < stray[j].Name })
	return stray
}

// nearest is the name of names closest to s by edit distance, if it is
// within a quarter of s's length after the prefix (at least 1), else "".
func nearest(s string, names []string) string {
	limit := max(1, (len(s)-len(envPrefix))/4)
	best, bestD := "", limit+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
