package giop

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
)

// Profile tags (CORBA 3.0 §13.6.2, IOP::ProfileId).
const (
	// TagInternetIOP marks an IIOP profile, the only kind this package calls.
	TagInternetIOP uint32 = 0
	// TagMultipleComponents marks a profile that is a bare component list.
	// It is kept as opaque bytes.
	TagMultipleComponents uint32 = 1
)

// Limits for IORs read from the wire or from strings. They are far above
// anything omniORB writes (its IORs are a few hundred bytes) and exist so a
// hostile peer cannot make us allocate or loop much (SPEC.md).
const (
	iorMaxTypeID       = 1 << 10
	iorMaxProfiles     = 32
	iorMaxProfileData  = 64 << 10
	iorMaxStringified  = 128 << 10
	iorMaxHostLen      = 255
	iorMaxObjectKey    = 4 << 10
	iorMaxComponents   = 64
	iorMaxComponentLen = 16 << 10
)

// TaggedProfile is one IOP::TaggedProfile of an IOR. Data holds the
// profile_data octets unchanged; for an IIOP profile they are a CDR
// encapsulation (see ParseIIOPProfile).
type TaggedProfile struct {
	Tag  uint32
	Data []byte
}

// IOR is an interoperable object reference, IOP::IOR (CORBA 3.0 §13.6.2;
// SPEC.md). Profiles are kept as raw bytes so that a reference
// we only pass on (a LOCATION_FORWARD target, an operation argument) is
// re-sent exactly as its ORB wrote it, including profiles we do not know.
type IOR struct {
	TypeID   string
	Profiles []TaggedProfile

	// iiop caches the parsed IIOP profile for calls (Client.Invoke): an
	// IOR is not to be changed once it has been called.
	iiop atomic.Pointer[IIOPProfile]
}

// CallProfile returns the IIOP profile calls use, parsed once per IOR and
// shared: callers must not modify it (IIOP returns a copy of their own).
func (ior *IOR) CallProfile() (*IIOPProfile, error) {
	if ior != nil {
		if p := ior.iiop.Load(); p != nil {
			return p, nil
		}
	}
	p, err := ior.IIOP()
	if err == nil {
		ior.iiop.Store(p)
	}
	return p, err
}

// Size returns about how many bytes the reference takes encoded (its
// type id and profiles with their lengths), for limits on references
// taken from the wire; 0 for the nil reference.
func (ior *IOR) Size() int {
	if ior == nil {
		return 0
	}
	n := 4 + len(ior.TypeID) + 4
	for _, p := range ior.Profiles {
		n += 8 + len(p.Data)
	}
	return n
}

// IsNil reports whether ior is a nil object reference: an empty type id and
// no profiles (§13.6.2). A nil *IOR is nil too.
func (ior *IOR) IsNil() bool {
	return ior == nil || (ior.TypeID == "" && len(ior.Profiles) == 0)
}

// IOR reads an IOP::IOR in the decoder's byte order and alignment, as found
// in a LOCATION_FORWARD reply body or an object reference argument. Errors
// are recorded on the decoder (they wrap ErrMarshal) and IOR then returns
// nil. The type id, the number of profiles and each profile's size are
// capped, and every profile's bytes are copied so the result does not alias
// a message buffer that the connection will reuse.
func (d *Decoder) IOR() *IOR {
	typeID := d.BoundedString(iorMaxTypeID, "IOR type id")
	// A profile is at least a tag and a length: 8 bytes.
	n := d.SeqLen(8)
	if d.err != nil {
		return nil
	}
	if n > iorMaxProfiles {
		d.fail("IOR with %d profiles exceeds the limit of %d", n, iorMaxProfiles)
		return nil
	}
	ior := &IOR{TypeID: typeID}
	if n > 0 {
		ior.Profiles = make([]TaggedProfile, 0, n)
	}
	for range n {
		tag := d.ULong()
		data := d.BoundedOctets(iorMaxProfileData, "IOR profile data")
		if d.err != nil {
			return nil
		}
		ior.Profiles = append(ior.Profiles, TaggedProfile{Tag: tag, Data: cloneBytes(data)})
	}
	return ior
}

// SkipIOR reads past an IOP::IOR, checking it as IOR does, without
// keeping it: for records whose reference is known already.
func (d *Decoder) SkipIOR() {
	if b := d.StringBytes(); len(b) > iorMaxTypeID {
		d.fail("IOR type id of %d bytes exceeds the limit of %d", len(b), iorMaxTypeID)
		return
	}
	n := d.SeqLen(8)
	if d.err != nil {
		return
	}
	if n > iorMaxProfiles {
		d.fail("IOR with %d profiles exceeds the limit of %d", n, iorMaxProfiles)
		return
	}
	for range n {
		d.ULong()
		if b := d.OctetsNoCopy(); len(b) > iorMaxProfileData {
			d.fail("IOR profile data of %d bytes exceeds the limit of %d", len(b), iorMaxProfileData)
		}
		if d.err != nil {
			return
		}
	}
}

// WriteIOR writes ior as an IOP::IOR in the encoder's byte order. A nil
// *IOR is written as the nil reference.
func (e *Encoder) WriteIOR(ior *IOR) {
	if ior == nil {
		ior = &IOR{}
	}
	e.WriteString(ior.TypeID)
	e.WriteULong(uint32(len(ior.Profiles)))
	for _, p := range ior.Profiles {
		e.WriteULong(p.Tag)
		e.WriteOctets(p.Data)
	}
}

// ParseIOR parses a stringified IOR: "IOR:" (any case) followed by the hex
// digits (either case) of a CDR encapsulation holding an IOP::IOR
// (CORBA 3.0 §13.6.6; SPEC.md). Surrounding whitespace is
// ignored, as is anything after the IOR inside the encapsulation (some ORBs
// pad it). Profiles are checked for structure only; IIOP decodes the IIOP
// profile. Errors wrap ErrBadIOR, and also ErrMarshal when the CDR was bad.
func ParseIOR(s string) (*IOR, error) {
	s = strings.TrimSpace(s)
	if len(s) > iorMaxStringified {
		return nil, fmt.Errorf("%w: stringified IOR of %d characters exceeds the limit of %d", ErrBadIOR, len(s), iorMaxStringified)
	}
	if len(s) < 4 || !strings.EqualFold(s[:4], "IOR:") {
		return nil, fmt.Errorf("%w: missing \"IOR:\" prefix", ErrBadIOR)
	}
	b, err := hex.DecodeString(s[4:])
	if err != nil {
		// hex errors name the offending byte or an odd length.
		return nil, fmt.Errorf("%w: %w", ErrBadIOR, err)
	}
	d := DecodeEncapsulation(b, V1_2)
	ior := d.IOR()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadIOR, err)
	}
	return ior, nil
}

// String returns the stringified IOR: "IOR:" and the lower-case hex of a
// little-endian encapsulation, the form omniORB writes. An IOR read from a
// little-endian string is reproduced byte for byte, since profiles are kept
// as they came.
func (ior *IOR) String() string {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true) // byte order octet: the encapsulation's alignment origin
	e.WriteIOR(ior)
	b := e.Bytes()
	out := make([]byte, 4+2*len(b))
	copy(out, "IOR:")
	hex.Encode(out[4:], b)
	return string(out)
}

// IIOP decodes the first IIOP profile of the reference. It returns
// ErrNoProfile when there is none, and the decoding error of that profile
// otherwise (later IIOP profiles are not tried: a broken first profile
// usually means a broken IOR, and hiding it would make failures confusing).
func (ior *IOR) IIOP() (*IIOPProfile, error) {
	if ior != nil {
		for _, p := range ior.Profiles {
			if p.Tag == TagInternetIOP {
				return ParseIIOPProfile(p)
			}
		}
	}
	return nil, fmt.Errorf("%w: the IOR has no TAG_INTERNET_IOP profile", ErrNoProfile)
}

// NewIOR returns a reference with type id typeID and the single IIOP profile
// p. A nil p gives a reference without profiles.
func NewIOR(typeID string, p *IIOPProfile) *IOR {
	ior := &IOR{TypeID: typeID}
	if p != nil {
		ior.Profiles = []TaggedProfile{p.Profile()}
	}
	return ior
}

// IIOPProfile is a decoded TAG_INTERNET_IOP profile, IIOP::ProfileBody
// (CORBA 3.0 §15.7.2; SPEC.md). Its version is the highest
// GIOP version a client may use with it.
type IIOPProfile struct {
	Version    Version // IIOP version, 1.0–1.2
	Host       string
	Port       uint16
	ObjectKey  []byte
	Components []TaggedComponent // absent in IIOP 1.0
}

// ParseIIOPProfile decodes an IIOP profile. The host, object key, number of
// components and each component's size are capped (host 255 bytes, key
// 4 KiB, 64 components of 16 KiB). Components are kept byte for byte,
// including those we do not understand, and nothing aliases p.Data. Bytes
// after the component list are ignored, as §15.7.2 asks of readers of
// profiles from newer minor versions. Errors wrap ErrBadIOR.
func ParseIIOPProfile(p TaggedProfile) (*IIOPProfile, error) {
	if p.Tag != TagInternetIOP {
		return nil, fmt.Errorf("%w: profile tag %d is not TAG_INTERNET_IOP", ErrBadIOR, p.Tag)
	}
	if len(p.Data) > iorMaxProfileData {
		return nil, fmt.Errorf("%w: IIOP profile of %d bytes exceeds the limit of %d", ErrBadIOR, len(p.Data), iorMaxProfileData)
	}
	d := DecodeEncapsulation(p.Data, V1_2)
	var prof IIOPProfile
	prof.Version.Major = d.Octet()
	prof.Version.Minor = d.Octet()
	if d.err == nil && !prof.Version.Supported() {
		// Major 1 with a higher minor could be read by skipping the
		// unknown tail, but a client would still have to cap the GIOP
		// version; refusing keeps "profile version = GIOP version" true.
		return nil, fmt.Errorf("%w: IIOP profile version %v (only 1.0–1.2 are supported)", ErrBadIOR, prof.Version)
	}
	host := d.StringBytes()
	if d.err == nil {
		if err := checkProfileHost(host); err != nil {
			return nil, err
		}
	}
	prof.Host = string(host)
	prof.Port = d.UShort()
	prof.ObjectKey = cloneBytes(d.BoundedOctets(iorMaxObjectKey, "object key"))
	if d.err == nil && prof.Version.AtLeast(V1_1) {
		prof.Components = d.components()
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: IIOP profile: %w", ErrBadIOR, err)
	}
	return &prof, nil
}

// checkProfileHost rejects hosts that no client could connect to, and an
// embedded NUL, which C++ ORBs would silently truncate at.
func checkProfileHost(host []byte) error {
	switch {
	case len(host) == 0:
		return fmt.Errorf("%w: IIOP profile with an empty host", ErrBadIOR)
	case len(host) > iorMaxHostLen:
		return fmt.Errorf("%w: IIOP profile host of %d bytes exceeds the limit of %d", ErrBadIOR, len(host), iorMaxHostLen)
	}
	for _, c := range host {
		if c == 0 {
			return fmt.Errorf("%w: IIOP profile host contains a NUL byte", ErrBadIOR)
		}
	}
	return nil
}

// components reads a sequence<IOP::TaggedComponent>, bounded in count and size.
func (d *Decoder) components() []TaggedComponent {
	n := d.SeqLen(8) // a tag and a length at least
	if d.err != nil {
		return nil
	}
	if n > iorMaxComponents {
		d.fail("%d tagged components exceed the limit of %d", n, iorMaxComponents)
		return nil
	}
	if n == 0 {
		return nil
	}
	cs := make([]TaggedComponent, 0, n)
	for range n {
		tag := d.ULong()
		data := d.BoundedOctets(iorMaxComponentLen, "tagged component data")
		if d.err != nil {
			return nil
		}
		cs = append(cs, TaggedComponent{Tag: tag, Data: cloneBytes(data)})
	}
	return cs
}

// Profile encodes p as a TAG_INTERNET_IOP profile in a little-endian
// encapsulation, with zero padding. Components are written only for IIOP
// 1.1 and later, because a 1.0 ProfileBody has no place for them.
func (p *IIOPProfile) Profile() TaggedProfile {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true) // byte order octet: the encapsulation's alignment origin
	e.WriteOctet(p.Version.Major)
	e.WriteOctet(p.Version.Minor)
	e.WriteString(p.Host)
	e.WriteUShort(p.Port)
	e.WriteOctets(p.ObjectKey)
	if p.Version.AtLeast(V1_1) {
		e.WriteULong(uint32(len(p.Components)))
		for _, c := range p.Components {
			e.WriteULong(c.Tag)
			e.WriteOctets(c.Data)
		}
	}
	return TaggedProfile{Tag: TagInternetIOP, Data: e.Bytes()}
}

// cloneBytes copies b, returning nil for an empty b so that decoded and
// re-decoded values compare equal.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
