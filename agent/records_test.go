package agent

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

func testRecords() (*proxyRecord, []*requestRecord) {
	target := giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: 9, ObjectKey: []byte("StockManager")})
	recipient := giop.NewIOR(ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: 10, ObjectKey: []byte("rr")})
	p := &proxyRecord{id: newID(), target: target, repoID: "IDL:StockManager:1.0", recipient: recipient,
		props: Properties{WaitReply: true, ReplyDropping: 6}}
	p.group = proxyGroup(p.id)
	ofProxy := &requestRecord{id: newID(), proxyID: p.id, group: p.group, tag: "t\x00\xff", cookie: "c",
		target: p.target, repoID: p.repoID, recipient: p.recipient, props: p.props, operation: "add_stock",
		state: lifecycle.Replied, version: giop.V1_1, little: false, bodyAlign: 4, created: 1234567890}
	made := &requestRecord{id: newID(), group: namedGroup("g"), target: target, repoID: "IDL:Other:1.0",
		recipient: &giop.IOR{}, operation: "op", oneway: true, suppress: true, state: lifecycle.Queued,
		version: giop.V1_2, little: true, bodyAlign: -1, created: -5}
	return p, []*requestRecord{ofProxy, made}
}

// TestRequestRecord_RoundTrip: a request record decodes to what was
// encoded, with and without its proxy known; with it, the proxy's group
// and references are shared rather than copied (RELIABILITY.md).
func TestRequestRecord_RoundTrip(t *testing.T) {
	p, recs := testRecords()
	proxyOf := func(id poller.ID) *proxyRecord {
		if id == p.id {
			return p
		}
		return nil
	}
	for _, want := range recs {
		for _, of := range []func(poller.ID) *proxyRecord{nil, proxyOf} {
			got, err := decodeRequest(want.encode(), of)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip (proxy known: %v):\n got %+v\nwant %+v", of != nil, got, want)
			}
			if of != nil && want.proxyID == p.id && (got.target != p.target || got.recipient != p.recipient) {
				t.Fatal("a request of a known proxy has references of its own")
			}
		}
	}
}

// TestRequestRecord_MemoryStateRefused: a record whose state is one only
// memory knows (or none) is corrupt, and says so, rather than come back
// in a state recovery has no move for.
func TestRequestRecord_MemoryStateRefused(t *testing.T) {
	_, recs := testRecords()
	for st := lifecycle.New; st <= lifecycle.Calling+1; st++ {
		if st == lifecycle.Calling {
			continue // stored, as replied and marked (TestRecords_CallbackMark)
		}
		r := *recs[1]
		r.state = st
		if _, err := decodeRequest(r.encode(), nil); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("a record in state %v: %v, want ErrCorruptRecord", st, err)
		}
	}
	for _, st := range []lifecycle.State{lifecycle.Created, lifecycle.Queued, lifecycle.Sending, lifecycle.Replied,
		lifecycle.Delivered, lifecycle.Calling} {
		r := *recs[1]
		r.state = st
		if got, err := decodeRequest(r.encode(), nil); err != nil || got.state != st {
			t.Errorf("a record in state %v: %v, %v", st, got.state, err)
		}
	}
}

// TestRecords_CallbackMark: a request whose callback attempt is marked
// (lifecycle.Calling) is stored as replied with the mark appended to
// version 2 (SPEC.md), so that an agent that knows no mark reads it as
// replied; an unmarked record is byte for byte what it was before the
// mark (a single node writes none); the mark on any other state, or the
// state octet of calling itself, is corrupt.
func TestRecords_CallbackMark(t *testing.T) {
	_, recs := testRecords()
	r := *recs[1]
	r.state = lifecycle.Replied
	replied := r.encode()
	r.state = lifecycle.Calling
	marked := r.encode()
	if !bytes.Equal(marked, append(replied[:len(replied):len(replied)], 1)) {
		t.Fatalf("a marked record is not the replied one and a TRUE:\n%x\n%x", marked, replied)
	}
	if got, err := decodeRequest(replied, nil); err != nil || got.state != lifecycle.Replied {
		t.Fatalf("a record that ends before the mark: %v, %v; want replied", got.state, err)
	}
	if got, err := decodeRequest(append(replied[:len(replied):len(replied)], 0), nil); err != nil || got.state != lifecycle.Replied {
		t.Fatalf("a record with the mark FALSE: %v, %v; want replied", got.state, err)
	}
	if got, err := decodeRequest(marked, nil); err != nil || got.state != lifecycle.Calling {
		t.Fatalf("a marked record: %v, %v; want calling", got.state, err)
	}
	// The state octet: where a delivered record differs from a replied one.
	r.state = lifecycle.Delivered
	delivered := r.encode()
	state := 0
	for state < len(replied) && replied[state] == delivered[state] {
		state++
	}
	if state == len(replied) || len(delivered) != len(replied) {
		t.Fatal("no state octet found")
	}
	for _, octet := range []byte{byte(lifecycle.Created), byte(lifecycle.Sending), byte(lifecycle.Delivered), byte(lifecycle.Calling)} {
		c := bytes.Clone(marked)
		c[state] = octet
		if _, err := decodeRequest(c, nil); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("the mark with state octet %d: %v, want ErrCorruptRecord", octet, err)
		}
	}
	c := bytes.Clone(replied)
	c[state] = byte(lifecycle.Calling)
	if _, err := decodeRequest(c, nil); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("the state octet of calling, unmarked: %v, want ErrCorruptRecord", err)
	}
	// Version 1 never had the mark: a byte after its fields is a later
	// writer's, not a mark.
	r.state = lifecycle.Replied
	r.bound, r.identity = true, "ZZZZ"
	if got, err := decodeRequest(append(encodeRequestV1(&r), 1), nil); err != nil || got.state != lifecycle.Replied {
		t.Errorf("a version-1 record with a byte more: %v, %v; want replied", got, err)
	}
}

// FuzzRequestRecord: decoding a stored request record never panics, fails
// only with ErrCorruptRecord, and what it accepts encodes back (at the current
// version) to a record that decodes the same, whether or not its proxy is
// known. Seeds: testdata/fuzz/FuzzRequestRecord, with records of version 1
// (the requests of testdata/store-v1 among them) and 2.
func FuzzRequestRecord(f *testing.F) {
	p, recs := testRecords()
	for _, r := range recs {
		f.Add(r.encode())
		f.Add(encodeRequestV1(r))
	}
	marked := *recs[1]
	marked.state = lifecycle.Calling
	f.Add(marked.encode())
	proxyOf := func(id poller.ID) *proxyRecord {
		if id == p.id {
			return p
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, of := range []func(poller.ID) *proxyRecord{nil, proxyOf} {
			r, err := decodeRequest(b, of)
			if err != nil {
				if !errors.Is(err, ErrCorruptRecord) {
					t.Fatalf("error %v is not ErrCorruptRecord", err)
				}
				continue
			}
			r2, err := decodeRequest(r.encode(), of)
			if err != nil {
				t.Fatalf("re-decoding: %v", err)
			}
			if !reflect.DeepEqual(r, r2) {
				t.Fatalf("re-encoding changed the record:\n%+v\n%+v", r, r2)
			}
		}
	})
}

// keys makes, in one allocation, the keys key makes one by one, and none
// of them can grow into the next.
func TestRequestKeys(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		r := &requestRecord{id: newID(), created: 1234567890, legacyKeys: legacy}
		q, b, y := r.keys()
		for _, c := range []struct {
			got    []byte
			prefix []byte
		}{{q, prefixRequest}, {b, prefixBody}, {y, prefixReply}} {
			if want := r.key(c.prefix); !bytes.Equal(c.got, want) || cap(c.got) != len(c.got) {
				t.Errorf("legacy %v: key %q (cap %d), want %q", legacy, c.got, cap(c.got), want)
			}
		}
		if n := testing.AllocsPerRun(100, func() { keySink, _, _ = r.keys() }); n != 1 {
			t.Errorf("legacy %v: keys allocated %v times", legacy, n)
		}
	}
}

// TestRequestKeys_Layout: a request's keys are its prefix, its creation
// time (8 octets big-endian) and its id, so that they sort by creation
// time whatever the ids; a store written before keeps prefix and id.
func TestRequestKeys_Layout(t *testing.T) {
	older := &requestRecord{id: poller.ID{0xff, 0xff}, created: 1_700_000_000_000_000_000}
	newer := &requestRecord{id: poller.ID{0x00, 0x01}, created: older.created + 1}
	want := append([]byte("q/"), 0x17, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x00)
	want = append(want, older.id[:]...)
	if got := older.key(prefixRequest); !bytes.Equal(got, want) || len(got) != requestKeyLen {
		t.Errorf("key %x, want %x", got, want)
	}
	for _, prefix := range [][]byte{prefixRequest, prefixBody, prefixReply} {
		if bytes.Compare(older.key(prefix), newer.key(prefix)) >= 0 {
			t.Errorf("%s keys do not sort by creation time", prefix)
		}
	}
	legacy := *older
	legacy.legacyKeys = true
	if got, want := legacy.key(prefixBody), append([]byte("b/"), older.id[:]...); !bytes.Equal(got, want) ||
		len(got) != legacyRequestKeyLen {
		t.Errorf("legacy key %x, want %x", got, want)
	}
}

// The previous release's writers, as they were: version-1 records, with
// the properties as three fixed fields (SPEC.md). Stores it wrote are
// still read (testdata/store-v1); these make such records of any content.

func encodeProxyV1(p *proxyRecord) []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteOctet(1)
	e.WriteRaw(p.id[:])
	e.WriteIOR(p.target)
	e.WriteString(p.repoID)
	e.WriteIOR(p.recipient)
	writePropsV1(e, p.props)
	e.WriteBool(p.toBeDestroyed)
	e.WriteLongLong(p.created.UnixNano())
	e.WriteRaw(p.receiverID[:])
	e.WriteBool(p.bound)
	e.WriteString(p.identity)
	return e.Bytes()
}

func encodeRequestV1(r *requestRecord) []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteOctet(1)
	e.WriteRaw(r.id[:])
	e.WriteRaw(r.proxyID[:])
	e.WriteString(r.group)
	writeOctetString(e, r.tag)
	writeOctetString(e, r.cookie)
	e.WriteIOR(r.target)
	e.WriteString(r.repoID)
	e.WriteIOR(r.recipient)
	writePropsV1(e, r.props)
	e.WriteString(r.operation)
	e.WriteBool(r.oneway)
	e.WriteBool(r.suppress)
	e.WriteOctet(byte(r.state))
	e.WriteOctet(r.version.Major)
	e.WriteOctet(r.version.Minor)
	e.WriteBool(r.little)
	e.WriteOctet(byte(r.bodyAlign))
	e.WriteLongLong(r.created)
	e.WriteBool(r.bound)
	e.WriteString(r.identity)
	return e.Bytes()
}

func writePropsV1(e *giop.Encoder, p Properties) {
	e.WriteBool(p.WaitReply)
	e.WriteOctet(p.ReplyDropping)
	e.WriteBool(p.ManualTrash)
}

// TestRecords_Version1ReadsAsBefore: a version-1 proxy or request record
// decodes to what a version-2 one of the same content does, properties
// included, and is written back at version 2.
func TestRecords_Version1ReadsAsBefore(t *testing.T) {
	p, recs := testRecords()
	p.receiverID, p.bound, p.identity, p.props.ManualTrash = newID(), true, "ZZZZ", true
	v1 := encodeProxyV1(p)
	want, err := decodeProxy(p.encode())
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeProxy(v1)
	if err != nil || !sameProxy(got, want) || got.props != p.props {
		t.Fatalf("version-1 proxy: %+v, %v; want %+v", got, err, want)
	}
	if again := got.encode(); again[0] != proxyVersion || bytes.Equal(again, v1) {
		t.Fatalf("a version-1 proxy is written back as version %d", again[0])
	}
	for _, want := range recs {
		want.bound, want.identity = true, "ZZZZ"
		got, err := decodeRequest(encodeRequestV1(want), nil)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("version-1 request:\n got %+v, %v\nwant %+v", got, err, want)
		}
		if v := got.encode()[0]; v != requestVersion {
			t.Fatalf("a version-1 request is written back as version %d", v)
		}
	}
}

// beforeIdentity is the length a record ending in bound (true) and the
// identity "ZZZZ" had before the identity was appended: its padding
// included, what stores written before then hold.
func beforeIdentity(t *testing.T, rec []byte) int {
	t.Helper()
	at := bytes.LastIndex(rec, []byte("ZZZZ\x00")) - 4
	if at < 0 || at+9 != len(rec) {
		t.Fatalf("no identity at the end of the record")
	}
	end := bytes.LastIndexByte(rec[:at], 1) + 1
	if end == 0 || end+4 <= at {
		t.Fatalf("no bound flag before the identity")
	}
	return end
}

// keySink keeps keys from the stack in TestRecordKeys, as a batch does.
var keySink []byte

// TestRecords_AppendedFieldsAreOptional: version-1 records written before
// the fields appended since (a proxy's receiver id, bound flag and
// identity, a request's bound flag and identity) still decode: a proxy's
// receiver then keeps the key it had — the proxy's id — and nothing is
// bound. Version 2 always has them: one that ends before them is corrupt.
func TestRecords_AppendedFieldsAreOptional(t *testing.T) {
	p, recs := testRecords()
	p.receiverID, p.bound, p.identity = newID(), true, "ZZZZ"
	full := encodeProxyV1(p)
	got, err := decodeProxy(full)
	if err != nil || got.receiverID != p.receiverID || !got.bound || got.identity != "ZZZZ" {
		t.Fatalf("proxy with appended fields: %+v, %v", got, err)
	}
	// Before the identity: a proxy's record ended with bound.
	withBound := full[:beforeIdentity(t, full)]
	if got, err := decodeProxy(withBound); err != nil || !got.bound || got.identity != "" {
		t.Fatalf("proxy record without the identity: %+v, %v", got, err)
	}
	old, err := decodeProxy(withBound[:len(withBound)-len(p.receiverID)-1])
	if err != nil || old.receiverID != p.id || old.bound {
		t.Fatalf("proxy record without appended fields: receiver id %x bound %v, %v", old.receiverID, old.bound, err)
	}
	v2 := p.encode()
	if _, err := decodeProxy(v2[:beforeIdentity(t, v2)]); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("version-2 proxy record without its identity: %v, want ErrCorruptRecord", err)
	}
	r := recs[1]
	r.bound, r.identity = true, "ZZZZ"
	enc := encodeRequestV1(r)
	if got, err := decodeRequest(enc, nil); err != nil || !got.bound || got.identity != "ZZZZ" {
		t.Fatalf("request with appended fields: %+v, %v", got, err)
	}
	enc = enc[:beforeIdentity(t, enc)]
	if got, err := decodeRequest(enc, nil); err != nil || !got.bound || got.identity != "" {
		t.Fatalf("request record without the identity: %+v, %v", got, err)
	}
	if got, err := decodeRequest(enc[:len(enc)-1], nil); err != nil || got.bound {
		t.Fatalf("request record without appended fields: %+v, %v", got, err)
	}
	v2 = r.encode()
	if _, err := decodeRequest(v2[:beforeIdentity(t, v2)], nil); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("version-2 request record without its identity: %v, want ErrCorruptRecord", err)
	}
}

// TestRecords_NewerVersionRefused: a record of a version this agent does
// not know — a later agent's — is refused, naming the kind and the
// version, rather than read by this agent's layout; so is version 0,
// never written.
func TestRecords_NewerVersionRefused(t *testing.T) {
	p, recs := testRecords()
	decoders := []struct {
		kind   string
		rec    []byte
		decode func([]byte) error
	}{
		{"proxy", p.encode(), func(b []byte) error { _, err := decodeProxy(b); return err }},
		{"request", recs[0].encode(), func(b []byte) error { _, err := decodeRequest(b, nil); return err }},
		{"reply", testReplies()[0].encode(), func(b []byte) error { _, err := decodeReply(b); return err }},
	}
	for _, c := range decoders {
		if err := c.decode(c.rec); err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		newer := append([]byte{c.rec[0] + 1}, c.rec[1:]...)
		err := c.decode(newer)
		var v *recordVersionError
		if !errors.Is(err, ErrCorruptRecord) || !errors.As(err, &v) || v.version != c.rec[0]+1 ||
			!strings.Contains(err.Error(), fmt.Sprintf("%s record of version %d", c.kind, c.rec[0]+1)) {
			t.Errorf("%s record of version %d: %v, want a recordVersionError naming it", c.kind, newer[0], err)
		}
		if err := c.decode(append([]byte{0}, c.rec[1:]...)); !errors.Is(err, ErrCorruptRecord) || errors.As(err, &v) {
			t.Errorf("%s record of version 0: %v, want ErrCorruptRecord", c.kind, err)
		}
	}
}

// TestRecords_EveryPropertyStored: each property nmproto's table keeps,
// set alone to a value other than its default, is written by name in a
// proxy's and a request's record and read back: the store needs no
// change for a property added to the table (SPEC.md, "Properties").
func TestRecords_EveryPropertyStored(t *testing.T) {
	p, recs := testRecords()
	for _, pr := range (Properties{}).List() {
		def, _ := nmproto.LookupProperty(pr.Name)
		props, err := Properties{}.Apply([]Property{{Name: def.Name, Value: def.Any(def.Other())}}, nmproto.ScopeBoth)
		if err != nil {
			t.Fatal(err)
		}
		p.props, recs[0].props = props, props
		for kind, enc := range map[string][]byte{"proxy": p.encode(), "request": recs[0].encode()} {
			if !bytes.Contains(enc, append([]byte(def.Name), 0)) {
				t.Errorf("%s record does not name %s", kind, def.Name)
			}
		}
		if got, err := decodeProxy(p.encode()); err != nil || got.props != props {
			t.Errorf("proxy with %s: %+v, %v; want %+v", def.Name, got, err, props)
		}
		if got, err := decodeRequest(recs[0].encode(), nil); err != nil || got.props != props {
			t.Errorf("request with %s: %+v, %v; want %+v", def.Name, got, err, props)
		}
	}
}

// TestRecords_PropertiesByName: a stored property this agent does not
// know — a later agent's — is skipped, one the record lacks has its
// default, the order does not matter, and a value the agent would refuse
// is a corrupt record.
func TestRecords_PropertiesByName(t *testing.T) {
	read := func(pairs ...func(*giop.Encoder)) (Properties, error) {
		e := giop.NewEncoder(giop.V1_2, true)
		e.WriteULong(uint32(len(pairs)))
		for _, w := range pairs {
			w(e)
		}
		d := giop.NewDecoder(e.Bytes(), giop.V1_2, true)
		p := readProperties(d, 2)
		return p, d.Err()
	}
	pair := func(name string, val ...byte) func(*giop.Encoder) {
		return func(e *giop.Encoder) { e.WriteString(name); e.WriteOctets(val) }
	}
	got, err := read(pair("LaterProperty", 1, 2, 3, 4, 5), pair(nmproto.PropRequestManualTrash, 1),
		pair(nmproto.PropRecipientOnConnection, 1), pair(nmproto.PropReplyDropping, nmproto.DropNormal))
	if want := (Properties{ManualTrash: true, ReplyDropping: nmproto.DropNormal}); err != nil || got != want {
		t.Errorf("properties %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []func(*giop.Encoder){
		pair(nmproto.PropReplyDropping, 0x80),
		pair(nmproto.PropWaitReply, 2),
		pair(nmproto.PropWaitReply),
		pair(nmproto.PropWaitReply, 1, 0),
	} {
		if _, err := read(bad); err == nil {
			t.Errorf("a refused value was read")
		}
	}
}

// testReplies are a reply of each kind the store holds: the target's,
// with a body relayed from GIOP 1.1 big-endian, and one the agent made.
func testReplies() []*replyRecord {
	return []*replyRecord{
		{status: giop.ReplyUserException, version: giop.V1_1, little: false, bodyAlign: 4, body: []byte("\x00\x00\x00\x05IDL:\x00")},
		systemExceptionReply(giop.NewSystemException(giop.ExcTransient, 1, giop.CompletedNo)),
		{status: giop.ReplyNoException, version: giop.V1_2, little: true, bodyAlign: -1, body: []byte{}},
	}
}

// TestRecords_TrailingFieldsIgnored: a record with fields after the last
// one this agent knows — a newer writer's, appended at the same version
// (SPEC.md) — decodes as it would without them.
func TestRecords_TrailingFieldsIgnored(t *testing.T) {
	newer := []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'n', 'e', 'w'}
	same := func(kind string, enc []byte, decode func([]byte) (any, error)) {
		t.Helper()
		want, err := decode(enc)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		got, err := decode(append(enc[:len(enc):len(enc)], newer...))
		equal := reflect.DeepEqual(got, want)
		if p, ok := got.(*proxyRecord); ok && err == nil {
			equal = sameProxy(p, want.(*proxyRecord))
		}
		if err != nil || !equal {
			t.Errorf("%s with trailing fields:\n got %+v, %v\nwant %+v", kind, got, err, want)
		}
	}
	p, recs := testRecords()
	p.receiverID, p.bound, p.identity = newID(), true, "ZZZZ"
	same("proxy", p.encode(), func(b []byte) (any, error) { return decodeProxy(b) })
	for _, r := range recs {
		r.bound, r.identity = true, "ZZZZ"
		// A later writer writes the callback mark, FALSE too, before its
		// own fields (SPEC.md).
		same("request", append(r.encode(), 0), func(b []byte) (any, error) { return decodeRequest(b, nil) })
		r.state = lifecycle.Calling
		same("request", r.encode(), func(b []byte) (any, error) { return decodeRequest(b, nil) })
	}
	for _, y := range testReplies() {
		same("reply", y.encode(), func(b []byte) (any, error) { return decodeReply(b) })
	}
}

// sameProxy reports whether two decoded proxy records are the same: what
// they store, and what decoding derives from it. (reflect.DeepEqual would
// compare the references' caches of their parsed profiles by address.)
func sameProxy(a, b *proxyRecord) bool {
	return bytes.Equal(a.encode(), b.encode()) && a.group == b.group && a.lane == b.lane &&
		a.receiver == nil && b.receiver == nil && a.pollerCtx == nil && b.pollerCtx == nil &&
		a.binding == nil && b.binding == nil
}

// FuzzProxyRecord: decoding a stored proxy record never panics, fails
// only with ErrCorruptRecord, and what it accepts encodes back (at the current
// version) to a record that decodes the same. Seeds:
// testdata/fuzz/FuzzProxyRecord, with records of version 1 (the proxies of
// testdata/store-v1 among them) and 2.
func FuzzProxyRecord(f *testing.F) {
	p, _ := testRecords()
	f.Add(p.encode())
	f.Add(encodeProxyV1(p))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProxy(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v is not ErrCorruptRecord", err)
			}
			return
		}
		p2, err := decodeProxy(p.encode())
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !sameProxy(p, p2) {
			t.Fatalf("re-encoding changed the record:\n%+v\n%+v", p, p2)
		}
	})
}

// FuzzReplyRecord: decoding a stored reply record never panics, fails
// only with ErrCorruptRecord, and what it accepts encodes back to a record that
// decodes the same. Seeds: testdata/fuzz/FuzzReplyRecord (with the
// replies of testdata/store-v1).
func FuzzReplyRecord(f *testing.F) {
	for _, y := range testReplies() {
		f.Add(y.encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		y, err := decodeReply(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v is not ErrCorruptRecord", err)
			}
			return
		}
		y2, err := decodeReply(y.encode())
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !reflect.DeepEqual(y, y2) {
			t.Fatalf("re-encoding changed the record:\n%+v\n%+v", y, y2)
		}
	})
}

// TestRecords_EncodeAllocations: writing a request or a reply record
// costs one allocation, its buffer, properties by name included — a 2PI
// writes its request's record and its reply on its way (SPEC.md, "What is
// written together") — and reading a reply two, the record and its body.
func TestRecords_EncodeAllocations(t *testing.T) {
	_, recs := testRecords()
	y := testReplies()[0]
	enc := y.encode()
	for what, f := range map[string]func(){
		"request record": func() { keySink = recs[0].encode() },
		"reply record":   func() { keySink = y.encode() },
	} {
		if n := testing.AllocsPerRun(100, f); n != 1 {
			t.Errorf("writing a %s: %v allocations, want 1", what, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { replySink, _ = decodeReply(enc) }); n != 2 {
		t.Errorf("reading a reply record: %v allocations, want 2", n)
	}
}

// replySink keeps decoded replies from the stack in TestRecords_EncodeAllocations.
var replySink *replyRecord
