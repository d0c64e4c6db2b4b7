package agent_test

import (
	"crypto/rand"
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
)

// TestIsolation_KeysCannotBeGuessedOrEdited: object keys carry 128 random
// bits (docs/callbacks.md, like Glacier2's per-client category), so a client
// holding its own poller cannot reach another's — not by editing a byte of
// its key, not by trying random keys, not by switching the key's kind.
func TestIsolation_KeysCannotBeGuessedOrEdited(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	rcv := e.receiver(e.mustProxy())
	mine := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("MINE", 1))
	theirs := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("THEIRS", 2))
	prof, _ := mine.poller.IIOP()
	key := prof.ObjectKey
	if len(key) < 17 {
		t.Fatalf("poller key of %d bytes cannot hold 128 random bits", len(key))
	}
	theirProf, _ := theirs.poller.IIOP()

	reach := func(k []byte) error {
		ref := giop.NewIOR(mine.poller.TypeID, &giop.IIOPProfile{Version: giop.V1_2, Host: prof.Host, Port: prof.Port, ObjectKey: k})
		_, err := e.client.Invoke(e.ctx(), ref, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("", 0)})
		return err
	}
	tried := 0
	for i := 1; i < len(key); i++ {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			k := append([]byte(nil), key...)
			k[i] ^= flip
			if string(k) == string(theirProf.ObjectKey) {
				t.Fatal("an edited key equals another request's key")
			}
			if err := reach(k); !isSys(err, giop.ExcObjectNotExist, 0) {
				t.Fatalf("edited key %x reached something: %v", k, err)
			}
			tried++
		}
	}
	for range 200 {
		k := make([]byte, len(key))
		rand.Read(k[1:])
		k[0] = key[0]
		if err := reach(k); !isSys(err, giop.ExcObjectNotExist, 0) {
			t.Fatalf("random key reached something: %v", err)
		}
		tried++
	}
	for _, kind := range []byte{'P', 'R', 'Q', 'H'} {
		k := append([]byte{kind}, key[1:]...)
		if err := reach(k); !isSys(err, giop.ExcObjectNotExist, 0) {
			t.Fatalf("key of kind %c with a poller's id reached something: %v", kind, err)
		}
	}
	// The real keys still work: the test was not refusing everything.
	if err := reach(key); !isSys(err, giop.ExcNoResponse, 0) {
		t.Fatalf("own poller: %v", err)
	}
	t.Logf("%d edited or guessed keys, none reached an object", tried)
}
