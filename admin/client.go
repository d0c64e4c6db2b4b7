package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/recipient"
)

// Client talks to a running agent's admin listener.
type Client struct {
	// Addr is the admin listener's host:port.
	Addr string
	// Token is the bearer token (from the agent's token file).
	Token string
	HTTP  *http.Client
}

// NewClient returns a client for the admin listener at addr, with the
// token read from tokenFile.
func NewClient(addr, tokenFile string) (*Client, error) {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("admin: the agent's token file (--admin-token-file; by default in its --data-dir): %w", err)
	}
	return &Client{Addr: addr, Token: strings.TrimSpace(string(b)), HTTP: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("admin: is the agent running, with its admin listener on %s? %w", c.Addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusNotFound {
				return fmt.Errorf("%w: %s", agent.ErrUnknown, strings.TrimPrefix(e.Error, agent.ErrUnknown.Error()+": "))
			}
			return errors.New(e.Error)
		}
		return fmt.Errorf("admin: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// Proxies lists one page of the agent's request proxies.
func (c *Client) Proxies(ctx context.Context, after string, limit int) (agent.ProxyPage, error) {
	q := url.Values{"after": {after}}
	setLimit(q, limit)
	var out agent.ProxyPage
	return out, c.do(ctx, http.MethodGet, "/v1/proxies?"+q.Encode(), &out)
}

// setLimit asks for a page of limit entries; zero or less asks for the
// server's default page.
func setLimit(q url.Values, limit int) {
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
}

// Requests lists one page of the agent's live requests that match f.
func (c *Client) Requests(ctx context.Context, f agent.RequestFilter, after string, limit int) (agent.RequestPage, error) {
	q := url.Values{"after": {after}, "state": {f.State}, "proxy": {f.Proxy}, "group": {f.Group}}
	setLimit(q, limit)
	if f.OlderThan > 0 {
		q.Set("older_than", f.OlderThan.String())
	}
	var out agent.RequestPage
	return out, c.do(ctx, http.MethodGet, "/v1/requests?"+q.Encode(), &out)
}

// Request shows one request, decoded.
func (c *Client) Request(ctx context.Context, id string) (agent.RequestDetail, error) {
	var out agent.RequestDetail
	return out, c.do(ctx, http.MethodGet, "/v1/requests/"+url.PathEscape(id), &out)
}

// Trash trashes one request.
func (c *Client) Trash(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/requests/"+url.PathEscape(id), nil)
}

// DestroyProxy destroys one proxy and its requests.
func (c *Client) DestroyProxy(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/proxies/"+url.PathEscape(id), nil)
}

// FailingRecipients lists recipients whose callbacks are failing.
func (c *Client) FailingRecipients(ctx context.Context) ([]recipient.Failure, error) {
	var out []recipient.Failure
	return out, c.do(ctx, http.MethodGet, "/v1/recipients/failing", &out)
}

// RetryCallbacks queues again the callbacks given up for the recipients at
// address (host:port or a failing recipient's name; "" for all).
func (c *Client) RetryCallbacks(ctx context.Context, address string) (int, error) {
	var out RetryResult
	err := c.do(ctx, http.MethodPost, "/v1/recipients/retry?"+url.Values{"recipient": {address}}.Encode(), &out)
	return out.Retried, err
}
