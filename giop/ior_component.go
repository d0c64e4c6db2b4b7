package giop

import "fmt"

// Component tags of IIOP profiles (CORBA 3.0 §13.6.2.2, IOP::ComponentId;
// SPEC.md).
const (
	// TagORBType carries the ORB type as an encapsulated ulong. omniORB
	// records it but never branches on it, so our IORs may omit it.
	TagORBType uint32 = 0
	// TagCodeSets carries a CONV_FRAME::CodeSetComponentInfo. Without it an
	// omniORB client uses ISO-8859-1 and refuses wchar (SPEC.md).
	TagCodeSets uint32 = 1
	// TagAlternateIIOPAddress carries another host and port for the same
	// object (§15.7.3).
	TagAlternateIIOPAddress uint32 = 3
)

// TaggedComponent is one IOP::TaggedComponent of an IIOP 1.1+ profile.
// Data holds the component_data octets unchanged, so components we do not
// understand survive a decode and re-encode byte for byte.
type TaggedComponent struct {
	Tag  uint32
	Data []byte
}

// OSF code set registry values used in CORBA code set negotiation
// (CORBA 3.0 §13.10.2.5; SPEC.md).
const (
	CodeSetISO8859_1 uint32 = 0x00010001
	CodeSetUTF8      uint32 = 0x05010001
	CodeSetUTF16     uint32 = 0x00010109
)

// CodeSetComponent is CONV_FRAME::CodeSetComponent: the native code set
// of one character kind and the ones the server can convert from.
type CodeSetComponent struct {
	Native     uint32
	Conversion []uint32
}

// CodeSetComponentInfo is CONV_FRAME::CodeSetComponentInfo, the body of a
// TAG_CODE_SETS component.
type CodeSetComponentInfo struct {
	ForChar, ForWChar CodeSetComponent
}

// DefaultCodeSets is what our IORs advertise, as SPEC.md
// recommends: char native UTF-8 (so omniORB clients send UTF-8) with
// ISO-8859-1 conversion, wchar native UTF-16.
var DefaultCodeSets = CodeSetComponentInfo{
	ForChar:  CodeSetComponent{Native: CodeSetUTF8, Conversion: []uint32{CodeSetISO8859_1}},
	ForWChar: CodeSetComponent{Native: CodeSetUTF16},
}

// iorMaxConversionCodeSets caps conversion lists; real ORBs list one or two.
const iorMaxConversionCodeSets = 64

// Component encodes c as a TAG_CODE_SETS component (a little-endian encapsulation).
func (c CodeSetComponentInfo) Component() TaggedComponent {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true)
	for _, cs := range [2]CodeSetComponent{c.ForChar, c.ForWChar} {
		e.WriteULong(cs.Native)
		e.WriteULong(uint32(len(cs.Conversion)))
		for _, v := range cs.Conversion {
			e.WriteULong(v)
		}
	}
	return TaggedComponent{Tag: TagCodeSets, Data: e.Bytes()}
}

// ParseCodeSetComponent decodes the component_data of a TAG_CODE_SETS
// component. Errors wrap ErrBadIOR.
func ParseCodeSetComponent(data []byte) (CodeSetComponentInfo, error) {
	d := DecodeEncapsulation(data, V1_2)
	var info CodeSetComponentInfo
	info.ForChar = d.codeSetComponent()
	info.ForWChar = d.codeSetComponent()
	if err := d.Err(); err != nil {
		return CodeSetComponentInfo{}, fmt.Errorf("%w: TAG_CODE_SETS component: %w", ErrBadIOR, err)
	}
	return info, nil
}

func (d *Decoder) codeSetComponent() CodeSetComponent {
	var c CodeSetComponent
	c.Native = d.ULong()
	n := d.SeqLen(4)
	if d.err != nil {
		return c
	}
	if n > iorMaxConversionCodeSets {
		d.fail("%d conversion code sets exceed the limit of %d", n, iorMaxConversionCodeSets)
		return c
	}
	for range n {
		c.Conversion = append(c.Conversion, d.ULong())
	}
	return c
}

// ORBTypeComponent returns a TAG_ORB_TYPE component naming orbType.
func ORBTypeComponent(orbType uint32) TaggedComponent {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true)
	e.WriteULong(orbType)
	return TaggedComponent{Tag: TagORBType, Data: e.Bytes()}
}

// ParseORBTypeComponent decodes the component_data of a TAG_ORB_TYPE
// component. Errors wrap ErrBadIOR.
func ParseORBTypeComponent(data []byte) (uint32, error) {
	d := DecodeEncapsulation(data, V1_2)
	v := d.ULong()
	if err := d.Err(); err != nil {
		return 0, fmt.Errorf("%w: TAG_ORB_TYPE component: %w", ErrBadIOR, err)
	}
	return v, nil
}

// AlternateAddress is the body of a TAG_ALTERNATE_IIOP_ADDRESS component
// (§15.7.3): another endpoint where the same object can be reached.
type AlternateAddress struct {
	Host string
	Port uint16
}

// Component encodes a as a TAG_ALTERNATE_IIOP_ADDRESS component.
func (a AlternateAddress) Component() TaggedComponent {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true)
	e.WriteString(a.Host)
	e.WriteUShort(a.Port)
	return TaggedComponent{Tag: TagAlternateIIOPAddress, Data: e.Bytes()}
}

// ParseAlternateAddressComponent decodes the component_data of a
// TAG_ALTERNATE_IIOP_ADDRESS component, with the same host rules as an IIOP
// profile. Errors wrap ErrBadIOR.
func ParseAlternateAddressComponent(data []byte) (AlternateAddress, error) {
	d := DecodeEncapsulation(data, V1_2)
	host := d.StringBytes()
	port := d.UShort()
	if err := d.Err(); err != nil {
		return AlternateAddress{}, fmt.Errorf("%w: TAG_ALTERNATE_IIOP_ADDRESS component: %w", ErrBadIOR, err)
	}
	if err := checkProfileHost(host); err != nil {
		return AlternateAddress{}, fmt.Errorf("TAG_ALTERNATE_IIOP_ADDRESS component: %w", err)
	}
	return AlternateAddress{Host: string(host), Port: port}, nil
}

// Component returns the first component with the given tag.
func (p *IIOPProfile) Component(tag uint32) (TaggedComponent, bool) {
	for _, c := range p.Components {
		if c.Tag == tag {
			return c, true
		}
	}
	return TaggedComponent{}, false
}

// CodeSets returns the profile's TAG_CODE_SETS component. It reports false
// when there is none or it cannot be decoded; a client then behaves as
// omniORB does without one (ISO-8859-1 char, no wchar; SPEC.md).
func (p *IIOPProfile) CodeSets() (CodeSetComponentInfo, bool) {
	c, ok := p.Component(TagCodeSets)
	if !ok {
		return CodeSetComponentInfo{}, false
	}
	info, err := ParseCodeSetComponent(c.Data)
	return info, err == nil
}

// Addresses returns the endpoints to try, in order: the profile's own host
// and port, then each decodable TAG_ALTERNATE_IIOP_ADDRESS component.
// Undecodable alternates are skipped, since the primary address still works.
func (p *IIOPProfile) Addresses() []AlternateAddress {
	var addrs []AlternateAddress
	p.eachAddress(func(a AlternateAddress) bool { addrs = append(addrs, a); return true })
	return addrs
}

// eachAddress calls f with each address of Addresses, without building
// the list (the call path asks for them on every call), until f returns
// false.
func (p *IIOPProfile) eachAddress(f func(AlternateAddress) bool) {
	if !f(AlternateAddress{Host: p.Host, Port: p.Port}) {
		return
	}
	for _, c := range p.Components {
		if c.Tag != TagAlternateIIOPAddress {
			continue
		}
		if a, err := ParseAlternateAddressComponent(c.Data); err == nil && !f(a) {
			return
		}
	}
}
