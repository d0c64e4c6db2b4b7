package giop

import "fmt"

// Service context ids this package interprets (CORBA 3.0 §13.7; omniORB
// constants.cc). Unknown contexts are carried, never rejected.
const (
	ServiceCodeSets   uint32 = 1
	ServiceBiDirIIOP  uint32 = 5
	ServiceSendingCtx uint32 = 6
	// ServicePadding is the padding context (SPEC.md, "Relaying bodies
	// across GIOP versions"): its data is meaningless and only its length
	// counts, to make a GIOP 1.0/1.1 body start at the offset modulo 8 it
	// was encoded for. The id is requestagent's vendor id 0x4E4D0000 ("NM",
	// nmproto.VMCID) | 2. Receivers ignore contexts they do not know.
	ServicePadding uint32 = 0x4E4D0002
)

// paddingContextLen is how many bytes the padding context adds to a
// header: id, length and four octets of data. A multiple of 4 that is 4
// modulo 8, so that it moves what follows it by half an 8-byte boundary
// and leaves every 4-aligned field 4-aligned.
const paddingContextLen = 12

// ServiceContext is one IOP::ServiceContext: an id and opaque data, which
// for the standard contexts is a CDR encapsulation.
type ServiceContext struct {
	ID   uint32
	Data []byte
}

// ServiceContextList is the list carried in Request and Reply headers.
type ServiceContextList []ServiceContext

// Get returns the data of the first context with the given id.
func (l ServiceContextList) Get(id uint32) ([]byte, bool) {
	for _, c := range l {
		if c.ID == id {
			return c.Data, true
		}
	}
	return nil, false
}

// Limits on service contexts read from the wire (SPEC.md).
const (
	maxServiceContexts    = 32
	maxServiceContextData = 64 << 10
)

func (e *Encoder) writeServiceContexts(l ServiceContextList) {
	e.WriteULong(uint32(len(l)))
	for _, c := range l {
		e.WriteULong(c.ID)
		e.WriteOctets(c.Data)
	}
}

// serviceContexts reads a ServiceContextList. The data slices alias the
// message buffer; the connection hands each message its own buffer, so they
// stay valid as long as the message.
func (d *Decoder) serviceContexts() ServiceContextList { return d.serviceContextsInto(nil) }

// serviceContextsInto is serviceContexts using buf for the list when it
// has room, so that a request's few contexts need no allocation.
func (d *Decoder) serviceContextsInto(buf []ServiceContext) ServiceContextList {
	n := d.SeqLen(8)
	if n == 0 {
		return nil
	}
	if n > maxServiceContexts {
		d.SetErr(fmt.Errorf("%w: %d service contexts (limit %d)", ErrLimit, n, maxServiceContexts))
		return nil
	}
	var l ServiceContextList
	if n <= len(buf) {
		l = buf[:n]
	} else {
		l = make(ServiceContextList, n)
	}
	for i := range l {
		l[i].ID = d.ULong()
		l[i].Data = d.BoundedOctets(maxServiceContextData, "service context data")
	}
	if d.err != nil {
		return nil
	}
	return l
}

// CodeSetContext is the CodeSets service context: the transmission code
// sets a client chose for char and wchar data on a connection (§13.10.2.5).
type CodeSetContext struct {
	Char, WChar uint32
}

// ServiceContext encodes the context as an encapsulation.
func (c CodeSetContext) ServiceContext() ServiceContext {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true)
	e.WriteULong(c.Char)
	e.WriteULong(c.WChar)
	return ServiceContext{ID: ServiceCodeSets, Data: e.Bytes()}
}

// ParseCodeSetContext decodes the data of a CodeSets service context.
func ParseCodeSetContext(data []byte) (CodeSetContext, error) {
	d := DecodeEncapsulation(data, V1_2)
	c := CodeSetContext{Char: d.ULong(), WChar: d.ULong()}
	return c, d.Err()
}

// ListenPoint is an address a bidirectional client announces in its
// BI_DIR_IIOP context (§15.8.1): callbacks to objects at this address may
// use the announcing connection.
type ListenPoint struct {
	Host string
	Port uint16
}

// String formats the listen point as host:port.
func (lp ListenPoint) String() string { return fmt.Sprintf("%s:%d", lp.Host, lp.Port) }

// maxListenPoints caps the listen points one BI_DIR_IIOP context may carry.
const maxListenPoints = 16

// BiDirContext encodes a BI_DIR_IIOP service context for the listen points.
func BiDirContext(points []ListenPoint) ServiceContext {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true)
	e.WriteULong(uint32(len(points)))
	for _, p := range points {
		e.WriteString(p.Host)
		e.WriteUShort(p.Port)
	}
	return ServiceContext{ID: ServiceBiDirIIOP, Data: e.Bytes()}
}

// ParseBiDirContext decodes the listen points of a BI_DIR_IIOP context.
func ParseBiDirContext(data []byte) ([]ListenPoint, error) {
	d := DecodeEncapsulation(data, V1_2)
	n := d.SeqLen(6)
	if n > maxListenPoints {
		return nil, fmt.Errorf("%w: %d listen points (limit %d)", ErrLimit, n, maxListenPoints)
	}
	var pts []ListenPoint
	for i := 0; i < n && d.Err() == nil; i++ {
		host := d.BoundedString(255, "listen point host")
		port := d.UShort()
		pts = append(pts, ListenPoint{Host: host, Port: port})
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return pts, nil
}
