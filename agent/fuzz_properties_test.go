package agent

import (
	"testing"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// FuzzProperties: any PropertySeq from the wire decodes and is applied or
// refused with an error naming the property — never a panic, never a
// ReplyDropping with unknown bits.
func FuzzProperties(f *testing.F) {
	seed := func(props []Property) []byte {
		e := giop.NewEncoder(giop.V1_2, true)
		if err := nmproto.WriteProperties(e, props); err != nil {
			f.Fatal(err)
		}
		return e.Bytes()
	}
	f.Add(seed(Properties{WaitReply: true, ReplyDropping: 6}.List()), true)
	f.Add(seed([]Property{{Name: "RequestManualTrash", Value: giop.Any{Type: giop.TCBoolean, Value: true}}}), false)
	f.Add(seed([]Property{{Name: "Nope", Value: giop.Any{Type: giop.TCString, Value: "x"}}}), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, true)
	f.Fuzz(func(t *testing.T, data []byte, little bool) {
		d := giop.NewDecoder(data, giop.V1_2, little)
		props := nmproto.ReadProperties(d)
		if d.Err() != nil {
			return
		}
		p, err := Properties{}.Apply(props, nmproto.ScopeProxy)
		if err == nil && p.ReplyDropping&^(nmproto.DropNormal|nmproto.DropUserExceptions|nmproto.DropSystemExceptions) != 0 {
			t.Fatalf("accepted ReplyDropping 0x%02x", p.ReplyDropping)
		}
		if _, err := (Properties{}).Apply(props, nmproto.ScopeRequest); err == nil {
			for _, pr := range props {
				if pr.Name != nmproto.PropRequestManualTrash {
					t.Fatalf("create_request accepted property %q", pr.Name)
				}
			}
		}
	})
}
