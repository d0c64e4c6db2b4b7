package stock

import (
	"context"
	"flag"
	"fmt"
	"os"
)

// Main is the main function of the client examples: it adds the flags they
// share (-agent, -target, -timeout) to those the program defined, parses
// them, and runs run with the agent and target references under a context
// bounded by -timeout. An error is printed as "name: error" and exits 1.
func Main(name string, run func(ctx context.Context, agentRef, target string) error) {
	agentRef := flag.String("agent", DefaultAgent, "the request agent: IOR or corbaloc URL")
	target := flag.String("target", DefaultTarget, "the StockManager target: IOR or corbaloc URL")
	timeout := flag.Duration("timeout", DefaultTimeout, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	err := run(ctx, *agentRef, *target)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Say prints one line of an example's output.
func Say(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) }
