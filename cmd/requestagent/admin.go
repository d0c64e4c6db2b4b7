package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
)

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0) }

// tokenFile is the admin token file the flags name.
func tokenFile(c *cli.Context) string {
	if f := flagString(c, "admin-token-file"); f != "" {
		return f
	}
	return filepath.Join(flagString(c, "data-dir"), admin.TokenFileName)
}

// adminClient is a client of the admin listener the flags name.
func adminClient(c *cli.Context) (*admin.Client, error) {
	cl, err := admin.NewClient(flagString(c, "admin"), tokenFile(c))
	if err != nil {
		return nil, cli.Exit(err.Error(), 1)
	}
	return cl, nil
}

// oneID is the command's one argument, an id. Flags written after it
// (show ID --json) are taken too: the flag parser stops at the first
// argument.
func oneID(c *cli.Context, what string) (string, error) {
	var ids []string
	for _, a := range c.Args().Slice() {
		if !strings.HasPrefix(a, "-") {
			ids = append(ids, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if name == "json" && hasFlag(c, "json") {
			c.Set("json", "true")
			continue
		}
		return "", cli.Exit(fmt.Sprintf("requestagent %s: %s after the id: only --json may follow it", c.Command.Name, a), 2)
	}
	if len(ids) != 1 {
		return "", cli.Exit(fmt.Sprintf("requestagent %s: give one %s id (see requestagent %s --help)", c.Command.Name, what, c.Command.Name), 2)
	}
	return ids[0], nil
}

func listProxies(c *cli.Context) error {
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	page, err := cl.Proxies(c.Context, "", c.Int("limit"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(page)
	}
	w := table()
	fmt.Fprintln(w, "PROXY\tINTERFACE\tREQUESTS\tSTATE\tAGE\tPROPERTIES")
	for _, p := range page.Proxies {
		state := "active"
		if p.ToBeDestroyed {
			state = "to be destroyed"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", p.ID, shown(p.RepositoryID),
			p.Requests, state, time.Since(p.Created).Round(time.Second), p.Properties)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if rest := page.Total - len(page.Proxies); rest > 0 && page.Next != "" {
		fmt.Printf("(%d more; --limit to see more)\n", rest)
	}
	return nil
}

func listRequests(c *cli.Context) error {
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	f := agent.RequestFilter{State: c.String("state"), Proxy: c.String("proxy"), Group: c.String("group"),
		OlderThan: c.Duration("older-than")}
	page, err := cl.Requests(c.Context, f, "", c.Int("limit"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(page)
	}
	w := table()
	fmt.Fprintln(w, "REQUEST\tOPERATION\tSTATE\tAGE\tPROXY/GROUP\tTAG")
	for _, r := range page.Requests {
		where := r.Proxy
		if where == "" {
			where = "group " + r.Group
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, shown(r.Operation), r.State, r.Age, shown(where), shown(r.Tag))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Printf("(%d live requests in all; --limit or the filters to see others)\n", page.Live)
	}
	return nil
}

func trashRequest(c *cli.Context) error {
	return onOne(c, "request", (*admin.Client).Trash, "trashed request %s")
}

func destroyProxy(c *cli.Context) error {
	return onOne(c, "proxy", (*admin.Client).DestroyProxy, "destroyed proxy %s and its requests")
}

// onOne does an admin change to the one object named by the command's
// argument, and says it is done.
func onOne(c *cli.Context, what string, do func(*admin.Client, context.Context, string) error, done string) error {
	id, err := oneID(c, what)
	if err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	if err := do(cl, c.Context, id); err != nil {
		return err
	}
	fmt.Printf(done+"\n", id)
	return nil
}

func showRequest(c *cli.Context) error {
	id, err := oneID(c, "request")
	if err != nil {
		return err
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	d, err := cl.Request(c.Context, id)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(d)
	}
	w := table()
	fmt.Fprintf(w, "request\t%s\n", d.ID)
	fmt.Fprintf(w, "interface\t%s\n", shown(d.RepositoryID))
	fmt.Fprintf(w, "operation\t%s\n", shown(d.Operation))
	fmt.Fprintf(w, "state\t%s (age %s)\n", d.State, d.Age)
	fmt.Fprintf(w, "target\t%s\n", shown(d.Target))
	if d.Identity != "" {
		fmt.Fprintf(w, "identity\t%s\n", shown(d.Identity))
	}
	if d.Recipient != "" {
		fmt.Fprintf(w, "recipient\t%s\n", shown(d.Recipient))
		fmt.Fprintf(w, "callback\t%s\n", d.Callback)
	}
	if d.Tag != "" {
		fmt.Fprintf(w, "tag\t%s\n", shown(d.Tag))
	}
	if d.Cookie != "" {
		fmt.Fprintf(w, "cookie\t%s\n", shown(d.Cookie))
	}
	if d.Arguments != nil {
		fmt.Fprintf(w, "arguments\t%s\n", d.Arguments)
	}
	if d.ReplyStatus != "" {
		fmt.Fprintf(w, "reply\t%s %s\n", d.ReplyStatus, d.Reply)
	}
	if d.Note != "" {
		fmt.Fprintf(w, "note\t%s\n", shown(d.Note))
	}
	return w.Flush()
}

func listRecipients(c *cli.Context) error {
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	fs, err := cl.FailingRecipients(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(fs)
	}
	w := table()
	fmt.Fprintln(w, "RECIPIENT\tFAILING SINCE\tATTEMPTS\tGIVEN UP\tLAST ERROR")
	for _, f := range fs {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", shown(f.Recipient), f.Since.Format(time.RFC3339), f.Attempts, f.GivenUp, shown(f.LastError))
	}
	return w.Flush()
}

func retryRecipients(c *cli.Context) error {
	if c.NArg() > 1 {
		return cli.Exit("requestagent recipients retry: give at most one HOST:PORT", 2)
	}
	cl, err := adminClient(c)
	if err != nil {
		return err
	}
	n, err := cl.RetryCallbacks(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	fmt.Printf("%d given-up callbacks queued again\n", n)
	return nil
}

// shown makes text that came from clients, targets or certificates (an
// operation name, a tag, a TLS identity, an error) safe for a terminal:
// with a control or unprintable character in it, it is printed quoted
// and escaped, so it cannot move the cursor, clear the screen or start a
// line that looks like another row.
func shown(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.QuoteToGraphic(s)
}
