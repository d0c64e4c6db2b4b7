package giop

import (
	"fmt"
	"testing"
)

// stringDecoder returns a decoder over one CDR string.
func stringDecoder(s string) *Decoder {
	e := NewEncoder(V1_2, true)
	e.WriteString(s)
	d := newDecoderAt(e.Bytes(), 0, V1_2, true, nil)
	return d
}

// Operation names repeat on a connection: once seen, one is decoded
// without allocating, and the table stays bounded whatever a peer sends.
func TestInternedString(t *testing.T) {
	names := make(map[string]string)
	first := stringDecoder("echoString").internedString(maxOperationName, "operation name", names)
	if first != "echoString" || names["echoString"] != "echoString" {
		t.Fatalf("decoded %q, table %v", first, names)
	}
	allocs := testing.AllocsPerRun(100, func() {
		d := stringDecoder("echoString")
		_ = d.internedString(maxOperationName, "operation name", names)
	})
	fresh := testing.AllocsPerRun(100, func() {
		_ = stringDecoder("echoString")
	})
	if allocs != fresh {
		t.Errorf("a known name cost %v allocations beyond building its decoder (%v)", allocs-fresh, fresh)
	}
	for i := range 2 * maxInterned {
		name := fmt.Sprintf("op%d", i)
		if got := stringDecoder(name).internedString(maxOperationName, "operation name", names); got != name {
			t.Fatalf("decoded %q, want %q", got, name)
		}
	}
	if len(names) != maxInterned {
		t.Errorf("table holds %d names, limit %d", len(names), maxInterned)
	}
	d := stringDecoder(string(make([]byte, maxOperationName+1)))
	if d.internedString(maxOperationName, "operation name", names) != "" || d.Err() == nil {
		t.Error("an operation name over the limit was accepted")
	}
	if got := stringDecoder("x").internedString(maxOperationName, "operation name", nil); got != "x" {
		t.Errorf("without a table: %q", got)
	}
}

// Grow leaves room for what follows, so writing it does not reallocate,
// and keeps what was written.
func TestEncoderGrow(t *testing.T) {
	e := NewEncoder(V1_2, true)
	e.WriteString("abc")
	e.Grow(100)
	before := cap(e.Bytes())
	if before-len(e.Bytes()) < 100 {
		t.Fatalf("room after Grow(100): %d", before-len(e.Bytes()))
	}
	for range 25 {
		e.WriteULong(7)
	}
	if cap(e.Bytes()) != before {
		t.Errorf("writing 100 bytes after Grow(100) reallocated")
	}
	d := newDecoderAt(e.Bytes(), 0, V1_2, true, nil)
	if s := d.String(); s != "abc" || d.ULong() != 7 || d.Err() != nil {
		t.Errorf("read back %q, %v", s, d.Err())
	}
	e.Grow(0)
	if cap(e.Bytes()) != before {
		t.Errorf("Grow(0) reallocated")
	}
}
