// Package admin is the agent's operator interface over HTTP, on a loopback
// address only (docs/admin.md): /healthz, /readyz (store open, state recovered), /metrics
// (Prometheus), optional /debug/pprof, and a JSON API to list proxies and
// requests, show a request decoded through the IDL, trash one, and list
// recipients whose callbacks are failing. Client is what the requestagent
// command's admin subcommands use.
package admin
