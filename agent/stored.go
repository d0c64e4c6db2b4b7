package agent

import (
	"fmt"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

// The records as the store holds them (SPEC.md, "Records"): one type per
// kind, holding exactly the fields its record has, with its own version.
// The live records of records.go hold these and what memory alone keeps
// (a proxy's servant and binding, a request's key form and reply time);
// this file is the one place the two are converted, and the one codec.
//
// Records are CDR (little-endian, version octet first) so that the codec
// is the one the wire uses. Within a version a writer may append fields:
// a reader ignores bytes after the fields it knows, and a record that ends
// before an appended field takes its default. A new layout of the fields
// already there is a new version; a reader refuses a version newer than it
// knows (recordVersionError) rather than misreading it.
const (
	// proxyVersion 2 stores the properties by name (writeProperties);
	// version 1 had three fixed fields.
	proxyVersion = 2
	// requestVersion 2: likewise.
	requestVersion = 2
	// replyVersion is still the first: a reply has no properties.
	replyVersion = 1
)

// recordVersionError is a record of a version newer than this agent
// reads: a later agent wrote the store. The agent does not start on it
// (it is an ErrCorruptRecord) rather than serve a store it would misread.
type recordVersionError struct {
	kind    string // "proxy", "request", "reply"
	version byte
	newest  byte // the newest this agent reads
}

func (e *recordVersionError) Error() string {
	return fmt.Sprintf("agent: %s record of version %d; this agent reads versions 1 to %d (a later agent wrote the store)",
		e.kind, e.version, e.newest)
}

// Is makes a recordVersionError an ErrNewerRecord, and so an
// ErrCorruptRecord: a record the agent cannot read.
func (e *recordVersionError) Is(target error) bool {
	return target == ErrNewerRecord || target == ErrCorruptRecord
}

// readVersion reads a record's version octet and refuses one this agent
// does not read. Version 0 was never written.
func readVersion(d *giop.Decoder, kind string, newest byte) (byte, error) {
	v := d.Octet()
	switch {
	case d.Err() != nil:
		return 0, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, kind, d.Err())
	case v > newest:
		return 0, &recordVersionError{kind, v, newest}
	case v == 0:
		return 0, fmt.Errorf("%w: %s record of version 0", ErrCorruptRecord, kind)
	}
	return v, nil
}

// storedProxy is a proxy record, p/.
type storedProxy struct {
	id            poller.ID
	target        *giop.IOR
	repoID        string
	recipient     *giop.IOR
	props         Properties
	toBeDestroyed bool
	created       int64 // Unix nanoseconds
	receiverID    poller.ID
	bound         bool
	identity      string
}

func (p *proxyRecord) stored() storedProxy {
	return storedProxy{id: p.id, target: p.target, repoID: p.repoID, recipient: p.recipient, props: p.props,
		toBeDestroyed: p.toBeDestroyed, created: p.created.UnixNano(), receiverID: p.receiverID,
		bound: p.bound, identity: p.identity}
}

// live makes the proxy the agent works with, with what it derives from
// the stored fields; the rest of what memory keeps is made on first use.
func (s *storedProxy) live() *proxyRecord {
	return &proxyRecord{id: s.id, group: proxyGroup(s.id), target: s.target, lane: targetLane(s.target),
		repoID: s.repoID, recipient: s.recipient, props: s.props, toBeDestroyed: s.toBeDestroyed,
		created: time.Unix(0, s.created), receiverID: s.receiverID, bound: s.bound, identity: s.identity}
}

func (p *proxyRecord) encode() []byte {
	s := p.stored()
	return s.encode()
}

func decodeProxy(b []byte) (*proxyRecord, error) {
	var s storedProxy
	if err := s.decode(b); err != nil {
		return nil, err
	}
	return s.live(), nil
}

func (s *storedProxy) encode() []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteOctet(proxyVersion)
	e.WriteRaw(s.id[:])
	e.WriteIOR(s.target)
	e.WriteString(s.repoID)
	e.WriteIOR(s.recipient)
	writeProperties(e, s.props)
	e.WriteBool(s.toBeDestroyed)
	e.WriteLongLong(s.created)
	e.WriteRaw(s.receiverID[:])
	e.WriteBool(s.bound)
	e.WriteString(s.identity)
	return e.Bytes()
}

func (s *storedProxy) decode(b []byte) error {
	d := giop.NewDecoder(b, giop.V1_2, true)
	v, err := readVersion(d, "proxy", proxyVersion)
	if err != nil {
		return err
	}
	copy(s.id[:], d.Raw(len(s.id)))
	s.target = d.IOR()
	s.repoID = d.String()
	s.recipient = d.IOR()
	s.props = readProperties(d, v)
	s.toBeDestroyed = d.Bool()
	s.created = d.LongLong()
	// Appended to version 1 (a record may end before them); always in 2.
	s.receiverID = s.id
	if v >= 2 || d.Remaining() > 0 {
		copy(s.receiverID[:], d.Raw(len(s.receiverID)))
		s.bound = d.Bool()
	}
	if v >= 2 || d.Remaining() > 0 {
		s.identity = d.BoundedString(maxIdentityLen, "identity")
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("%w: proxy: %v", ErrCorruptRecord, err)
	}
	return nil
}

// storedRequest is a request record, q/: everything but the body.
type storedRequest struct {
	id        poller.ID
	proxyID   poller.ID
	group     string
	tag       string
	cookie    string
	target    *giop.IOR
	repoID    string
	recipient *giop.IOR
	props     Properties
	operation string
	oneway    bool
	suppress  bool
	state     lifecycle.State
	version   giop.Version
	little    bool
	bodyAlign int8
	created   int64 // Unix nanoseconds
	bound     bool
	identity  string
	// marked: a callback attempt is marked (SPEC.md: appended to version
	// 2, written only when set); state is then replied.
	marked bool
}

func (r *requestRecord) stored() storedRequest {
	s := storedRequest{id: r.id, proxyID: r.proxyID, group: r.group, tag: r.tag, cookie: r.cookie,
		target: r.target, repoID: r.repoID, recipient: r.recipient, props: r.props, operation: r.operation,
		oneway: r.oneway, suppress: r.suppress, state: r.state, version: r.version, little: r.little,
		bodyAlign: r.bodyAlign, created: r.created, bound: r.bound, identity: r.identity}
	if s.state == lifecycle.Calling {
		// Replied and marked, so that an agent that knows no mark reads a
		// replied request, and calls back (SPEC.md).
		s.state, s.marked = lifecycle.Replied, true
	}
	return s
}

// live makes the request the agent works with. Its key form and reply
// time are memory only: recovery sets them (recover.go).
func (s *storedRequest) live() *requestRecord {
	state := s.state
	if s.marked {
		state = lifecycle.Calling
	}
	return &requestRecord{id: s.id, proxyID: s.proxyID, group: s.group, tag: s.tag, cookie: s.cookie,
		target: s.target, repoID: s.repoID, recipient: s.recipient, props: s.props, operation: s.operation,
		oneway: s.oneway, suppress: s.suppress, state: state, version: s.version, little: s.little,
		bodyAlign: s.bodyAlign, created: s.created, bound: s.bound, identity: s.identity}
}

func (r *requestRecord) encode() []byte {
	s := r.stored()
	return s.encode()
}

// decodeRequest decodes a request record. With proxyOf, a request of a
// known proxy shares the proxy's group name and references (the records
// repeat them) instead of decoding its own copies: a restart keeps one
// copy per proxy in memory, not one per request.
func decodeRequest(b []byte, proxyOf func(poller.ID) *proxyRecord) (*requestRecord, error) {
	var s storedRequest
	if err := s.decode(b, proxyOf); err != nil {
		return nil, err
	}
	return s.live(), nil
}

// Size hints for encoding records: the fixed fields with their length
// prefixes and padding, and a typical object reference (a type id, one
// IIOP profile with a few components).
const (
	recordFixedSize = 96
	iorSizeHint     = 160
)

func (s *storedRequest) encode() []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	// The fixed part, the properties, the strings and two references: one
	// allocation rather than a growth per doubling (six for a typical
	// record).
	e.Grow(recordFixedSize + propertiesSize + len(s.group) + len(s.tag) + len(s.cookie) + len(s.repoID) +
		len(s.operation) + len(s.identity) + 2*iorSizeHint)
	e.WriteOctet(requestVersion)
	e.WriteRaw(s.id[:])
	e.WriteRaw(s.proxyID[:])
	e.WriteString(s.group)
	writeOctetString(e, s.tag)
	writeOctetString(e, s.cookie)
	e.WriteIOR(s.target)
	e.WriteString(s.repoID)
	e.WriteIOR(s.recipient)
	writeProperties(e, s.props)
	e.WriteString(s.operation)
	e.WriteBool(s.oneway)
	e.WriteBool(s.suppress)
	e.WriteOctet(byte(s.state))
	e.WriteOctet(s.version.Major)
	e.WriteOctet(s.version.Minor)
	e.WriteBool(s.little)
	e.WriteOctet(byte(s.bodyAlign))
	e.WriteLongLong(s.created)
	e.WriteBool(s.bound)
	e.WriteString(s.identity)
	if s.marked {
		// Absent reads false: the records of a single node, which marks
		// nothing, stay as they were, byte for byte.
		e.WriteBool(true)
	}
	return e.Bytes()
}

// writeOctetString writes s as a sequence<octet>.
func writeOctetString(e *giop.Encoder, s string) {
	e.WriteULong(uint32(len(s)))
	e.WriteRawString(s)
}

// decode reads a request record; proxyOf is decodeRequest's.
func (s *storedRequest) decode(b []byte, proxyOf func(poller.ID) *proxyRecord) error {
	d := giop.NewDecoder(b, giop.V1_2, true)
	v, err := readVersion(d, "request", requestVersion)
	if err != nil {
		return err
	}
	copy(s.id[:], d.Raw(len(s.id)))
	copy(s.proxyID[:], d.Raw(len(s.proxyID)))
	var p *proxyRecord
	if proxyOf != nil && s.proxyID != (poller.ID{}) {
		p = proxyOf(s.proxyID)
	}
	if p != nil {
		d.StringBytes()
		s.group = p.group
	} else {
		s.group = d.String()
	}
	s.tag = string(d.OctetsNoCopy())
	s.cookie = string(d.OctetsNoCopy())
	if p != nil {
		d.SkipIOR()
		d.StringBytes()
		d.SkipIOR()
		s.target, s.repoID, s.recipient = p.target, p.repoID, p.recipient
	} else {
		s.target = d.IOR()
		s.repoID = d.String()
		s.recipient = d.IOR()
	}
	s.props = readProperties(d, v)
	s.operation = d.String()
	s.oneway = d.Bool()
	s.suppress = d.Bool()
	s.state = lifecycle.State(d.Octet())
	s.version = giop.Version{Major: d.Octet(), Minor: d.Octet()}
	s.little = d.Bool()
	s.bodyAlign = int8(d.Octet())
	s.created = d.LongLong()
	// Appended to version 1 (a record may end before them); always in 2.
	if v >= 2 || d.Remaining() > 0 {
		s.bound = d.Bool()
	}
	if v >= 2 || d.Remaining() > 0 {
		id := d.StringBytes()
		if len(id) > maxIdentityLen {
			return fmt.Errorf("%w: request: identity of %d bytes", ErrCorruptRecord, len(id))
		}
		if p != nil && string(id) == p.identity {
			// One copy per proxy in memory, as for its references.
			s.identity = p.identity
		} else {
			s.identity = string(id)
		}
	}
	// Appended to version 2.
	if v >= 2 && d.Remaining() > 0 {
		s.marked = d.Bool()
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("%w: request: %v", ErrCorruptRecord, err)
	}
	if s.marked && s.state != lifecycle.Replied {
		// Only a replied request's callback is marked: nothing the agent
		// writes.
		return fmt.Errorf("%w: request: callback marked in state %d", ErrCorruptRecord, s.state)
	}
	if !s.state.Stored() || s.state == lifecycle.Calling {
		// One of the moments only memory knows (lifecycle.State), or no
		// state at all: nothing the agent writes.
		return fmt.Errorf("%w: request: state %d", ErrCorruptRecord, s.state)
	}
	return nil
}

// storedReply is a reply record, y/.
type storedReply struct {
	status    giop.ReplyStatus
	version   giop.Version
	little    bool
	bodyAlign int8
	body      []byte
}

func (y *replyRecord) stored() storedReply {
	return storedReply{status: y.status, version: y.version, little: y.little, bodyAlign: y.bodyAlign, body: y.body}
}

// live makes the reply a relay hands on; its raw form is made there.
func (s *storedReply) live() *replyRecord {
	return &replyRecord{status: s.status, version: s.version, little: s.little, bodyAlign: s.bodyAlign, body: s.body}
}

func (y *replyRecord) encode() []byte {
	s := y.stored()
	return s.encode()
}

func decodeReply(b []byte) (*replyRecord, error) {
	var s storedReply
	if err := s.decode(b); err != nil {
		return nil, err
	}
	return s.live(), nil
}

func (s *storedReply) encode() []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	e.Grow(recordFixedSize + len(s.body))
	e.WriteOctet(replyVersion)
	e.WriteULong(uint32(s.status))
	e.WriteOctet(s.version.Major)
	e.WriteOctet(s.version.Minor)
	e.WriteBool(s.little)
	e.WriteOctet(byte(s.bodyAlign))
	e.WriteOctets(s.body)
	return e.Bytes()
}

func (s *storedReply) decode(b []byte) error {
	d := giop.NewDecoder(b, giop.V1_2, true)
	if _, err := readVersion(d, "reply", replyVersion); err != nil {
		return err
	}
	s.status = giop.ReplyStatus(d.ULong())
	s.version = giop.Version{Major: d.Octet(), Minor: d.Octet()}
	s.little = d.Bool()
	s.bodyAlign = int8(d.Octet())
	s.body = d.Octets()
	if err := d.Err(); err != nil {
		return fmt.Errorf("%w: reply: %v", ErrCorruptRecord, err)
	}
	return nil
}

// The properties of a proxy or request record of version 2 and later: a
// ulong count, then per property its name (string) and its value
// (octets: the value as CDR, one octet for a boolean or an octet). They
// are every property nmproto's table keeps, by name (Settings.Each), so a
// property added there is stored and restored with no change here. A
// value is a sequence rather than an any so that a reader skips a
// property it does not know without knowing its type: a later agent's
// property is ignored, and one a record lacks has its default.

// propertiesCount is how many properties a record holds: the kept ones.
var propertiesCount = len(Properties{}.List())

// propertiesSize bounds the properties' encoding, padding included, for
// Grow.
var propertiesSize = func() int {
	e := giop.NewEncoder(giop.V1_2, true)
	writeProperties(e, Properties{})
	return len(e.Bytes()) + 8
}()

// minPropertySize is the least a stored property takes: a name's length
// and NUL, a value's count.
const minPropertySize = 4 + 1 + 4

func writeProperties(e *giop.Encoder, p Properties) {
	e.WriteULong(uint32(propertiesCount))
	p.Each(func(def nmproto.PropertyDef, v any) {
		e.WriteString(def.Name)
		e.WriteULong(1)
		switch v := v.(type) {
		case bool:
			e.WriteBool(v)
		case byte:
			e.WriteOctet(v)
		default:
			// A new kind in nmproto's table needs its encoding here;
			// TestRecords_EveryPropertyStored fails first.
			panic(fmt.Sprintf("agent: property %s of a type the store cannot write", def.Name))
		}
	})
}

// readProperties reads a record's properties in the form of its version.
// A value the agent would refuse (Settings.Check) is a corrupt record: it
// never stores one.
func readProperties(d *giop.Decoder, version byte) Properties {
	var p Properties
	if version == 1 {
		p = Properties{WaitReply: d.Bool(), ReplyDropping: d.Octet(), ManualTrash: d.Bool()}
	} else {
		// Set in one Apply: each costs an allocation (a recovery decodes a
		// million records; RELIABILITY.md).
		var room [8]Property
		pairs := room[:0]
		for n, i := d.SeqLen(minPropertySize), 0; i < n && d.Err() == nil; i++ {
			if pr, ok := readProperty(d); ok {
				pairs = append(pairs, pr)
			}
		}
		var err error
		if p, err = p.Apply(pairs, nmproto.ScopeBoth); err != nil && d.Err() == nil {
			d.SetErr(err)
		}
	}
	if err := p.Check(); err != nil && d.Err() == nil {
		d.SetErr(err)
	}
	return p
}

// readProperty reads one name/value pair; ok is false for a property this
// agent does not keep, a later agent's (SPEC.md), which is ignored.
func readProperty(d *giop.Decoder) (_ Property, ok bool) {
	name, val := d.StringBytes(), d.OctetsNoCopy()
	if d.Err() != nil {
		return Property{}, false
	}
	def, known := nmproto.LookupProperty(string(name))
	if _, kept := (Properties{}).Get(def.Name); !known || !kept {
		return Property{}, false
	}
	var v any
	switch {
	case len(val) != 1:
		d.SetErr(fmt.Errorf("property %s: value of %d octets", def.Name, len(val)))
		return Property{}, false
	case def.Kind == giop.TkBoolean && val[0] <= 1:
		v = val[0] == 1
	case def.Kind == giop.TkOctet:
		v = val[0]
	default:
		d.SetErr(fmt.Errorf("property %s: value 0x%02x", def.Name, val[0]))
		return Property{}, false
	}
	return Property{Name: def.Name, Value: def.Any(v)}, true
}
