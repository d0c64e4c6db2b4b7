package nm_test

import (
	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/giop"
)

// demo is what the examples run against: an in-process request agent and
// the Go StockManager target (package examples/stock), both on 127.0.0.1.
// The agent delegates one request at a time (maxThreads 1), so the
// examples' output does not depend on which of two requests the target
// runs first.
type demo struct {
	// AgentRef is the agent's corbaloc URL.
	AgentRef string
	// Target is the StockManager's IOR.
	Target *giop.IOR

	agent  *agent.Agent
	target *stock.Server
}

func startDemo() *demo {
	m, err := stock.NewManager(nil)
	if err != nil {
		panic(err)
	}
	t, err := stock.Serve("127.0.0.1:0", m)
	if err != nil {
		panic(err)
	}
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", MaxThreads: 1})
	if err != nil {
		t.Close()
		panic(err)
	}
	return &demo{AgentRef: a.Corbaloc(), Target: t.IOR(), agent: a, target: t}
}

func (d *demo) Close() {
	d.agent.Close()
	d.target.Close()
}
