package naming

import (
	"context"
	"errors"
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
		return nil, fmt.Errorf("naming: empty naming-service name")
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
				return nil, fmt.Errorf("naming: name %q ends with an escape", s)
			}
			i++
			buf.WriteByte(s[i])
		case '.':
			if kind {
				return nil, fmt.Errorf("naming: name %q has two kinds in one component", s)
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
			return nil, fmt.Errorf("naming: name %q has an empty component", s)
		}
	}
	return out, nil
}

// Names of CosNaming's user exceptions (CosNaming §2.2).
const (
	notFoundID     = "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0"
	alreadyBoundID = "IDL:omg.org/CosNaming/NamingContext/AlreadyBound:1.0"
)

// Registration is a name bound in a naming service, to be unbound again.
type Registration struct {
	client *giop.Client
	ctxRef *giop.IOR
	name   []NameComponent
	ref    *giop.IOR
	text   string
}

// Register binds ref under name in the naming context ctxRef (rebind, so
// that a binding an earlier run left behind is replaced), first making
// the contexts of name's path that do not exist (bind_new_context): a
// name such as services/agents/RequestAgent works on an empty naming
// service.
func Register(ctx context.Context, c *giop.Client, ctxRef *giop.IOR, name string, ref *giop.IOR) (*Registration, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(n); i++ {
		_, err := c.Invoke(ctx, ctxRef, &giop.Invocation{Operation: "bind_new_context", Args: writeName(n[:i])})
		var ux *giop.UserException
		if err != nil && !(errors.As(err, &ux) && ux.RepoID == alreadyBoundID) {
			return nil, fmt.Errorf("naming: making the context %q: %w", joinName(n[:i]), describe(err))
		}
	}
	_, err = c.Invoke(ctx, ctxRef, &giop.Invocation{Operation: "rebind", Args: func(e *giop.Encoder) {
		writeName(n)(e)
		e.WriteIOR(ref)
	}})
	if err != nil {
		return nil, fmt.Errorf("naming: binding %q: %w", name, describe(err))
	}
	return &Registration{client: c, ctxRef: ctxRef, name: n, ref: ref, text: name}, nil
}

// Unregister unbinds the name, unless it is bound to another object by
// now (another process took the name over): the contexts made for it
// stay.
func (r *Registration) Unregister(ctx context.Context) error {
	resp, err := r.client.Invoke(ctx, r.ctxRef, &giop.Invocation{Operation: "resolve", Args: writeName(r.name)})
	if err != nil {
		var ux *giop.UserException
		if errors.As(err, &ux) && ux.RepoID == notFoundID {
			return nil // unbound already
		}
		return fmt.Errorf("naming: resolving %q: %w", r.text, describe(err))
	}
	bound := resp.Result.IOR()
	if err := resp.Result.Err(); err != nil || !sameObject(bound, r.ref) {
		return nil
	}
	if _, err := r.client.Invoke(ctx, r.ctxRef, &giop.Invocation{Operation: "unbind", Args: writeName(r.name)}); err != nil {
		return fmt.Errorf("naming: unbinding %q: %w", r.text, describe(err))
	}
	return nil
}

// Name returns the name as it was given.
func (r *Registration) Name() string { return r.text }

func writeName(n []NameComponent) func(*giop.Encoder) {
	return func(e *giop.Encoder) {
		e.WriteULong(uint32(len(n)))
		for _, c := range n {
			e.WriteString(c.ID)
			e.WriteString(c.Kind)
		}
	}
}

func joinName(n []NameComponent) string {
	parts := make([]string, len(n))
	for i, c := range n {
		parts[i] = c.ID
		if c.Kind != "" {
			parts[i] += "." + c.Kind
		}
	}
	return strings.Join(parts, "/")
}

// sameObject reports whether two references name the same object: the
// same address and key in their IIOP profiles.
func sameObject(a, b *giop.IOR) bool {
	pa, errA := a.IIOP()
	pb, errB := b.IIOP()
	return errA == nil && errB == nil && pa.Port == pb.Port && giop.SameHost(pa.Host, pb.Host) &&
		string(pa.ObjectKey) == string(pb.ObjectKey)
}

// describe names CosNaming's exceptions the way an operator reads them.
func describe(err error) error {
	var ux *giop.UserException
	if errors.As(err, &ux) {
		switch ux.RepoID {
		case notFoundID:
			return fmt.Errorf("NamingContext::NotFound (%w)", err)
		case alreadyBoundID:
			return fmt.Errorf("NamingContext::AlreadyBound (%w)", err)
		}
	}
	return err
}
