package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/requestagent/requestagent/giop"
)

// NameComponent is one component of a CosNaming name.
type NameComponent struct{ ID, Kind string }

// ParseName parses a stringified CosNaming name (CosNaming §2.4):
// components separated by '/', each "id" or "id.kind", with '\' escaping
// '/', '.' and '\'.
func ParseName(s string) ([]NameComponent, error) {
	if s == "" {
		return nil, fmt.Errorf("agent: empty naming-service name")
	}
	var (
		out  []NameComponent
		cur  NameComponent
		buf  strings.Builder
		kind bool
	)
	flush := func() {
		if kind {
			cur.Kind = buf.String()
		} else {
			cur.ID = buf.String()
		}
		buf.Reset()
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("agent: name %q ends with an escape", s)
			}
			i++
			buf.WriteByte(s[i])
		case '.':
			if kind {
				return nil, fmt.Errorf("agent: name %q has two kinds in one component", s)
			}
			flush()
			kind = true
		case '/':
			flush()
			out = append(out, cur)
			cur, kind = NameComponent{}, false
		default:
			buf.WriteByte(c)
		}
	}
	flush()
	out = append(out, cur)
	for _, c := range out {
		if c.ID == "" && c.Kind == "" {
			return nil, fmt.Errorf("agent: name %q has an empty component", s)
		}
	}
	return out, nil
}

// RegisterName binds the agent's reference under name in the naming
// context ctxRef (CosNaming::NamingContext::rebind), replacing any earlier
// binding — the one a previous run made, for instance.
func (a *Agent) RegisterName(ctx context.Context, ctxRef *giop.IOR, name string) error {
	n, err := ParseName(name)
	if err != nil {
		return err
	}
	self := a.IOR()
	_, err = a.client.Invoke(ctx, ctxRef, &giop.Invocation{Operation: "rebind", Args: func(e *giop.Encoder) {
		e.WriteULong(uint32(len(n)))
		for _, c := range n {
			e.WriteString(c.ID)
			e.WriteString(c.Kind)
		}
		e.WriteIOR(self)
	}})
	if err != nil {
		return fmt.Errorf("agent: registering %q in the naming service: %w", name, err)
	}
	a.log.Info().Str("name", name).Msg("agent: registered in the naming service")
	return nil
}
