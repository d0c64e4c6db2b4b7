package giop

import (
	"fmt"
)

// TCKind is a CORBA TypeCode kind (CORBA 3.0 §15.3.5.1, Table 15-2).
type TCKind uint32

// TypeCode kinds, in their wire order.
const (
	TkNull TCKind = iota
	TkVoid
	TkShort
	TkLong
	TkUShort
	TkULong
	TkFloat
	TkDouble
	TkBoolean
	TkChar
	TkOctet
	TkAny
	TkTypeCode
	TkPrincipal
	TkObjref
	TkStruct
	TkUnion
	TkEnum
	TkString
	TkSequence
	TkArray
	TkAlias
	TkExcept
	TkLongLong
	TkULongLong
	TkLongDouble
	TkWChar
	TkWString
	TkFixed
	TkValue
	TkValueBox
	TkNative
	TkAbstractInterface
	TkLocalInterface
)

var tcKindNames = [...]string{"null", "void", "short", "long", "ushort", "ulong", "float",
	"double", "boolean", "char", "octet", "any", "TypeCode", "Principal", "objref", "struct",
	"union", "enum", "string", "sequence", "array", "alias", "except", "longlong", "ulonglong",
	"longdouble", "wchar", "wstring", "fixed", "value", "value_box", "native",
	"abstract_interface", "local_interface"}

// String returns the kind's IDL-ish name, e.g. "ulong".
func (k TCKind) String() string {
	if int(k) < len(tcKindNames) {
		return tcKindNames[k]
	}
	return fmt.Sprintf("TCKind(%d)", uint32(k))
}

// tcIndirection is the kind value that marks a TypeCode indirection (§15.3.5.1).
const tcIndirection = 0xFFFFFFFF

// maxTypeCodeDepth bounds nesting of TypeCodes read from the wire, against
// stack exhaustion by hostile input (see SPEC.md).
const maxTypeCodeDepth = 32

// TypeCode describes the type of an Any's value. This package understands
// the kinds that CORBA::NameValuePair values use in practice: every
// primitive kind, bounded and unbounded strings, aliases of those, and
// sequences of primitives. Other kinds are kept as their raw encapsulated
// parameters so they can be re-sent unchanged; decoding a value of such a
// kind is an error (the idl package handles full IDL types).
type TypeCode struct {
	Kind TCKind
	// Bound is the bound of a string, wstring or sequence (0 = unbounded).
	Bound uint32
	// ID and Name are the repository id and name of an alias or objref.
	ID, Name string
	// Content is the aliased type of an alias or the element type of a sequence.
	Content *TypeCode
	// Digits and Scale are the parameters of a fixed.
	Digits uint16
	Scale  int16
	// Params is the raw encapsulation of a complex kind this package does
	// not interpret, byte order octet included.
	Params []byte
}

// Simple TypeCodes for the primitive kinds.
var (
	TCNull      = &TypeCode{Kind: TkNull}
	TCBoolean   = &TypeCode{Kind: TkBoolean}
	TCOctet     = &TypeCode{Kind: TkOctet}
	TCShort     = &TypeCode{Kind: TkShort}
	TCUShort    = &TypeCode{Kind: TkUShort}
	TCLong      = &TypeCode{Kind: TkLong}
	TCULong     = &TypeCode{Kind: TkULong}
	TCLongLong  = &TypeCode{Kind: TkLongLong}
	TCULongLong = &TypeCode{Kind: TkULongLong}
	TCFloat     = &TypeCode{Kind: TkFloat}
	TCDouble    = &TypeCode{Kind: TkDouble}
	TCChar      = &TypeCode{Kind: TkChar}
	TCWChar     = &TypeCode{Kind: TkWChar}
	TCString    = &TypeCode{Kind: TkString}
	TCWString   = &TypeCode{Kind: TkWString}
	TCOctetSeq  = &TypeCode{Kind: TkSequence, Content: TCOctet}
)

// Unalias follows alias TypeCodes to the type they name.
func (tc *TypeCode) Unalias() *TypeCode {
	for i := 0; tc != nil && tc.Kind == TkAlias && i < maxTypeCodeDepth; i++ {
		tc = tc.Content
	}
	return tc
}

// String describes the TypeCode for logs and errors.
func (tc *TypeCode) String() string {
	switch tc.Kind {
	case TkAlias:
		return fmt.Sprintf("alias %s (%s) of %s", tc.Name, tc.ID, tc.Content)
	case TkSequence:
		if tc.Bound > 0 {
			return fmt.Sprintf("sequence<%s,%d>", tc.Content, tc.Bound)
		}
		return fmt.Sprintf("sequence<%s>", tc.Content)
	case TkString, TkWString:
		if tc.Bound > 0 {
			return fmt.Sprintf("%s<%d>", tc.Kind, tc.Bound)
		}
	case TkObjref:
		return fmt.Sprintf("objref %s", tc.ID)
	}
	return tc.Kind.String()
}

// WriteTypeCode encodes a TypeCode.
func (e *Encoder) WriteTypeCode(tc *TypeCode) {
	e.WriteULong(uint32(tc.Kind))
	switch tc.Kind {
	case TkString, TkWString:
		e.WriteULong(tc.Bound)
	case TkFixed:
		e.WriteUShort(tc.Digits)
		e.WriteShort(tc.Scale)
	case TkAlias:
		m := e.BeginEncapsulation()
		e.WriteString(tc.ID)
		e.WriteString(tc.Name)
		e.WriteTypeCode(tc.Content)
		e.EndEncapsulation(m)
	case TkObjref:
		m := e.BeginEncapsulation()
		e.WriteString(tc.ID)
		e.WriteString(tc.Name)
		e.EndEncapsulation(m)
	case TkSequence:
		m := e.BeginEncapsulation()
		e.WriteTypeCode(tc.Content)
		e.WriteULong(tc.Bound)
		e.EndEncapsulation(m)
	default:
		if hasComplexParams(tc.Kind) {
			e.WriteOctets(tc.Params)
		}
	}
}

// hasComplexParams reports whether a kind carries encapsulated parameters.
func hasComplexParams(k TCKind) bool {
	switch k {
	case TkObjref, TkStruct, TkUnion, TkEnum, TkSequence, TkArray, TkAlias, TkExcept,
		TkValue, TkValueBox, TkNative, TkAbstractInterface, TkLocalInterface:
		return true
	}
	return false
}

// TypeCode decodes a TypeCode. Indirections (which only recursive types
// need) are refused rather than followed.
func (d *Decoder) TypeCode() *TypeCode { return d.typeCode(0) }

func (d *Decoder) typeCode(depth int) *TypeCode {
	if depth > maxTypeCodeDepth {
		d.fail("TypeCode nested deeper than %d", maxTypeCodeDepth)
		return nil
	}
	k := d.ULong()
	if d.err != nil {
		return nil
	}
	switch {
	case k == tcIndirection:
		d.fail("TypeCode indirection is not supported")
		return nil
	case k > uint32(TkLocalInterface):
		d.fail("unknown TypeCode kind %d", k)
		return nil
	}
	tc := &TypeCode{Kind: TCKind(k)}
	switch tc.Kind {
	case TkString, TkWString:
		tc.Bound = d.ULong()
	case TkFixed:
		tc.Digits = d.UShort()
		tc.Scale = d.Short()
	case TkAlias:
		in := d.Encapsulation()
		tc.ID = in.BoundedString(maxRepoIDLen, "alias repository id")
		tc.Name = in.BoundedString(maxRepoIDLen, "alias name")
		tc.Content = in.typeCode(depth + 1)
		d.SetErr(in.Err())
	case TkObjref:
		in := d.Encapsulation()
		tc.ID = in.BoundedString(maxRepoIDLen, "objref repository id")
		tc.Name = in.BoundedString(maxRepoIDLen, "objref name")
		d.SetErr(in.Err())
	case TkSequence:
		in := d.Encapsulation()
		tc.Content = in.typeCode(depth + 1)
		tc.Bound = in.ULong()
		d.SetErr(in.Err())
	default:
		if hasComplexParams(tc.Kind) {
			tc.Params = d.Octets()
		}
	}
	if d.err != nil {
		return nil
	}
	return tc
}

// maxRepoIDLen caps repository ids and names read from the wire.
const maxRepoIDLen = 1024
