package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/giop"
)

func agentGIOP(maxMessage int) *giop.Config {
	cfg := giop.DefaultConfig()
	cfg.MaxMessageSize = maxMessage
	return cfg
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0) }

func listProxies(c *cli.Context) error {
	ps, err := admin.NewClient(c.String("admin")).Proxies(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(ps)
	}
	w := table()
	fmt.Fprintln(w, "PROXY\tINTERFACE\tREQUESTS\tSTATE\tAGE\tPROPERTIES")
	for _, p := range ps {
		state := "active"
		if p.ToBeDestroyed {
			state = "to be destroyed"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\tWaitReply=%v ReplyDropping=0x%02x RequestManualTrash=%v\n", p.ID, p.RepositoryID,
			p.Requests, state, time.Since(p.Created).Round(time.Second), p.Properties.WaitReply, p.Properties.ReplyDropping,
			p.Properties.ManualTrash)
	}
	return w.Flush()
}

func listRequests(c *cli.Context) error {
	rs, err := admin.NewClient(c.String("admin")).Requests(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(rs)
	}
	w := table()
	fmt.Fprintln(w, "REQUEST\tOPERATION\tSTATE\tAGE\tPROXY/GROUP\tTAG")
	for _, r := range rs {
		where := r.Proxy
		if where == "" {
			where = "group " + r.Group
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Operation, r.State, r.Age, where, r.Tag)
	}
	return w.Flush()
}

func showRequest(c *cli.Context) error {
	d, err := admin.NewClient(c.String("admin")).Request(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(d)
	}
	w := table()
	fmt.Fprintf(w, "request\t%s\n", d.ID)
	fmt.Fprintf(w, "interface\t%s\n", d.RepositoryID)
	fmt.Fprintf(w, "operation\t%s\n", d.Operation)
	fmt.Fprintf(w, "state\t%s (age %s)\n", d.State, d.Age)
	if d.Tag != "" || d.Cookie != "" {
		fmt.Fprintf(w, "tag, cookie\t%s, %s (hex)\n", d.Tag, d.Cookie)
	}
	if d.Arguments != nil {
		fmt.Fprintf(w, "arguments\t%s\n", d.Arguments)
	}
	if d.ReplyStatus != "" {
		fmt.Fprintf(w, "reply\t%s %s\n", d.ReplyStatus, d.Reply)
	}
	if d.Note != "" {
		fmt.Fprintf(w, "note\t%s\n", d.Note)
	}
	return w.Flush()
}

func listRecipients(c *cli.Context) error {
	fs, err := admin.NewClient(c.String("admin")).FailingRecipients(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(fs)
	}
	w := table()
	fmt.Fprintln(w, "RECIPIENT\tFAILING SINCE\tATTEMPTS\tGIVEN UP\tLAST ERROR")
	for _, f := range fs {
		fmt.Fprintf(w, "%.60s\t%s\t%d\t%d\t%s\n", f.Recipient, f.Since.Format(time.RFC3339), f.Attempts, f.GivenUp, f.LastError)
	}
	return w.Flush()
}
