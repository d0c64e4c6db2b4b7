package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
)

// derivations returns every key an attacker would make from one it holds:
// the same id under every kind byte, the key cut short, grown by a byte,
// and its id alone.
func derivations(key []byte) [][]byte {
	var out [][]byte
	for kind := range 256 {
		if byte(kind) == key[0] {
			continue
		}
		out = append(out, append([]byte{byte(kind)}, key[1:]...))
	}
	for n := 1; n < len(key); n++ {
		out = append(out, key[:n])
	}
	out = append(out, append(append([]byte(nil), key...), 0), key[1:], append([]byte{key[0]}, key...))
	return out
}

// TestIsolation_NoObjectKeyDerivesAnother: every object the agent hands
// out — proxy, typed receiver, request object, poller, reply holder — has
// a key of its own, and no key is derived from another: whoever holds a
// receiver cannot reach its proxy, a poller does not give its request, a
// holder gives nothing else. Each key held is turned into every
// derivation (kind byte, id reuse, truncation, extension), and each is
// tried with _non_existent and with a real operation of every object kind.
func TestIsolation_NoObjectKeyDerivesAnother(t *testing.T) {
	e := newEnv(t, agent.Config{})
	// What the recipient saw inside reply_available: its holder's key, and
	// the keys derived from it that reached something (tried while the
	// holder is valid).
	holderKey := make(chan []byte, 1)
	holderLeaks := make(chan []string, 1)
	rref := startServant(t, "Deriving", &derivingRecipient{key: holderKey, leaks: holderLeaks})

	proxy, err := e.createProxy(e.target, "", rref)
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	release := e.sm.hold()
	polled := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("P", 1))
	if polled.poller == nil {
		t.Fatalf("no poller: %+v", polled)
	}
	// A request object (create_request), not yet invoked.
	resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(e.target)
		enc.WriteString("")
		enc.WriteIOR(nil)
		enc.WriteOctets(nil)
		enc.WriteString("g")
		enc.WriteOctets([]byte("t"))
		enc.WriteULong(0)
	}})
	if err != nil {
		t.Fatal(err)
	}
	reqObj := resp.Result.IOR()

	held := map[string]*giop.IOR{"proxy": proxy, "receiver": rcv, "poller": polled.poller, "request object": reqObj}
	own := map[string]string{}
	for name, ref := range held {
		own[string(keyOf(t, ref))] = name
	}
	tried := 0
	for name, ref := range held {
		for _, k := range derivations(keyOf(t, ref)) {
			if other, ok := own[string(k)]; ok {
				t.Errorf("the %s's key is derived from the %s's: %x", other, name, k)
				continue
			}
			if reached := e.reaches(ref, k); reached != "" {
				t.Errorf("a key derived from the %s's reached an object: %x (%s)", name, k, reached)
			}
			tried++
		}
	}
	release()
	// The holder: derivations are tried inside reply_available.
	select {
	case leaks := <-holderLeaks:
		for _, l := range leaks {
			t.Errorf("a key derived from the reply holder's reached an object: %s", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no reply_available; failures %+v", e.agent.RecipientFailures())
	}
	hk := <-holderKey
	for k := range own {
		if bytes.Equal([]byte(k)[1:], hk[1:]) {
			t.Errorf("the holder's key shares its id with another object's key")
		}
	}
	// Each object's key is its own: no two share the random part.
	ids := map[string]string{}
	for name, ref := range held {
		id := string(keyOf(t, ref)[1:])
		if other, dup := ids[id]; dup {
			t.Errorf("the %s and the %s share the random part of their keys", name, other)
		}
		ids[id] = name
	}
	t.Logf("%d derived keys tried against %d objects, none reached anything", tried, len(held)+1)
}

func keyOf(t *testing.T, ref *giop.IOR) []byte {
	t.Helper()
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	return prof.ObjectKey
}

// reaches tries key k at ref's address with _non_existent and with an
// operation of every object kind, and says what answered as an object
// would; "" when nothing did.
func (e *env) reaches(ref *giop.IOR, k []byte) string {
	return reachesWith(e.ctx(), e.client, ref, k)
}

func reachesWith(ctx context.Context, c *giop.Client, ref *giop.IOR, k []byte) string {
	prof, _ := ref.IIOP()
	at := giop.NewIOR("", &giop.IIOPProfile{Version: giop.V1_2, Host: prof.Host, Port: prof.Port, ObjectKey: k})
	resp, err := c.Invoke(ctx, at, &giop.Invocation{Operation: "_non_existent"})
	if err != nil {
		return fmt.Sprintf("_non_existent: %v", err)
	}
	if gone := resp.Result.Bool(); !gone {
		return "_non_existent: false"
	}
	for _, op := range []struct {
		name string
		args func(*giop.Encoder)
	}{
		{"_get_the_receiver", nil},
		{"properties", nil},
		{"destroy", func(enc *giop.Encoder) { enc.WriteBool(true) }},
		{"add_stock", addStockArgs("X", 1)},
	} {
		_, err := c.Invoke(ctx, at, &giop.Invocation{Operation: op.name, Args: op.args})
		if !isSys(err, giop.ExcObjectNotExist, 0) {
			return fmt.Sprintf("%s: %v", op.name, err)
		}
	}
	return ""
}

// derivingRecipient is a recipient that, inside reply_available, tries
// every key derived from its holder's while the holder is valid, then
// pulls the reply through the holder.
type derivingRecipient struct {
	key   chan []byte
	leaks chan []string
}

func (r *derivingRecipient) RepositoryID() string { return agent.ReplyRecipientID }

func (r *derivingRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "reply_available" {
		return giop.BadOperation(req.Operation())
	}
	holder := req.Args.IOR()
	_ = req.Args.String()
	_ = req.Args.Octets()
	if err := req.ArgsErr(); err != nil {
		return err
	}
	c := giop.NewClient(nil)
	defer c.Close()
	prof, err := holder.IIOP()
	if err != nil {
		return err
	}
	var leaks []string
	for _, k := range derivations(prof.ObjectKey) {
		if got := reachesWith(ctx, c, holder, k); got != "" {
			leaks = append(leaks, fmt.Sprintf("%x (%s)", k, got))
		}
	}
	// The holder itself works (the test is not refusing everything).
	if _, err := c.Invoke(ctx, holder, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("", 0)}); err != nil {
		leaks = append(leaks, "the holder itself did not give the reply: "+err.Error())
	}
	select {
	case r.key <- prof.ObjectKey:
		r.leaks <- leaks
	default:
	}
	return nil
}

// startServant serves s under key on a loopback port and returns its IOR.
func startServant(t *testing.T, key string, s giop.Servant) *giop.IOR {
	t.Helper()
	ior, _ := servedAt(t, key, s)
	return ior
}
