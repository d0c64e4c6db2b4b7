package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/recipient"
)

// Client talks to a running agent's admin listener.
type Client struct {
	// Addr is the admin listener's host:port.
	Addr string
	HTTP *http.Client
}

// NewClient returns a client for the admin listener at addr.
func NewClient(addr string) *Client {
	return &Client{Addr: addr, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+path, nil)
	if err != nil {
		return err
	}
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
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("admin: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// Proxies lists the agent's request proxies.
func (c *Client) Proxies(ctx context.Context) ([]agent.ProxyInfo, error) {
	var out []agent.ProxyInfo
	return out, c.do(ctx, http.MethodGet, "/v1/proxies", &out)
}

// Requests lists the agent's live requests.
func (c *Client) Requests(ctx context.Context) ([]agent.RequestInfo, error) {
	var out []agent.RequestInfo
	return out, c.do(ctx, http.MethodGet, "/v1/requests", &out)
}

// Request shows one request, decoded.
func (c *Client) Request(ctx context.Context, id string) (agent.RequestDetail, error) {
	var out agent.RequestDetail
	return out, c.do(ctx, http.MethodGet, "/v1/requests/"+id, &out)
}

// Trash trashes one request.
func (c *Client) Trash(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/requests/"+id, nil)
}

// FailingRecipients lists recipients whose callbacks are failing.
func (c *Client) FailingRecipients(ctx context.Context) ([]recipient.Failure, error) {
	var out []recipient.Failure
	return out, c.do(ctx, http.MethodGet, "/v1/recipients/failing", &out)
}
