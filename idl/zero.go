package idl

import "github.com/requestagent/requestagent/giop"

// Zero returns the zero value of IDL type t in its Go representation: false,
// 0 of the kind's Go type, "", a fixed zero with the type's scale ("0.00"),
// the first enumerator, a struct or exception whose members are all zero, a
// union selecting its default case (with a discriminator no label uses) or
// else its first label, an empty sequence, an array of zeros, a nil
// *giop.IOR, an Any holding tk_null, a tk_null *Type for a TypeCode, and
// nil for a value type (the null value), void and null. Marshalling the
// result always succeeds for types that Marshal supports (except wchar and
// wstring in GIOP 1.0), which is what a premature return needs. Types
// nested deeper than 64 levels, or so shared (a hostile TypeCode) that the
// zero would have more than 65536 parts, get nil in the excess parts.
func Zero(t *Type) any {
	z := zeroer{left: 1 << 16}
	return z.zero(t, 0)
}

type zeroer struct{ left int }

func (z *zeroer) zero(t *Type, depth int) any {
	if t == nil || depth > maxValueDepth || z.left <= 0 {
		return nil
	}
	z.left--
	switch t.Kind {
	case giop.TkBoolean:
		return false
	case giop.TkOctet, giop.TkChar:
		return byte(0)
	case giop.TkWChar:
		return rune(0)
	case giop.TkShort:
		return int16(0)
	case giop.TkUShort:
		return uint16(0)
	case giop.TkLong:
		return int32(0)
	case giop.TkULong:
		return uint32(0)
	case giop.TkLongLong:
		return int64(0)
	case giop.TkULongLong:
		return uint64(0)
	case giop.TkFloat:
		return float32(0)
	case giop.TkDouble, giop.TkLongDouble:
		return float64(0)
	case giop.TkString, giop.TkWString:
		return ""
	case giop.TkFixed:
		scale := int(max(t.Scale, 0))
		ds := make([]byte, scale+1)
		for i := range ds {
			ds[i] = '0'
		}
		return formatFixed(false, string(ds), scale)
	case giop.TkEnum:
		if len(t.Enumerators) == 0 {
			return nil
		}
		return t.Enumerators[0]
	case giop.TkStruct, giop.TkExcept:
		x := make(map[string]any, len(t.Members))
		for _, m := range t.Members {
			x[m.Name] = z.zero(m.Type, depth+1)
		}
		return x
	case giop.TkUnion:
		return z.union(t, depth)
	case giop.TkSequence:
		if el := resolveAlias(t.Elem); el != nil && el.Kind == giop.TkOctet {
			return []byte{}
		}
		return []any{}
	case giop.TkArray:
		if el := resolveAlias(t.Elem); el != nil && el.Kind == giop.TkOctet {
			return make([]byte, t.Length)
		}
		if t.Length > 1<<16 {
			return nil // no IDL array is this big; refuse to allocate
		}
		xs := make([]any, t.Length)
		for i := range xs {
			xs[i] = z.zero(t.Elem, depth+1)
		}
		return xs
	case giop.TkAlias:
		return z.zero(t.Elem, depth+1)
	case giop.TkAny:
		return Any{Type: &Type{Kind: giop.TkNull}}
	case giop.TkObjref, giop.TkAbstractInterface:
		return (*giop.IOR)(nil)
	case giop.TkTypeCode:
		return &Type{Kind: giop.TkNull}
	case giop.TkPrincipal:
		return []byte{}
	}
	return nil // null, void, value types, native, local interfaces
}

// union selects the default case with a discriminator value that no
// label uses, or else the first label of the first case.
func (z *zeroer) union(t *Type, depth int) any {
	dt := resolveAlias(t.Disc)
	if dt == nil {
		return Union{}
	}
	for _, c := range t.Cases {
		if !c.IsDefault {
			continue
		}
		if l, ok := unusedLabel(t, dt); ok {
			return Union{Disc: discValue(dt, l), Value: z.zero(c.Type, depth+1)}
		}
	}
	for _, c := range t.Cases {
		if len(c.Labels) > 0 {
			return Union{Disc: discValue(dt, c.Labels[0]), Value: z.zero(c.Type, depth+1)}
		}
	}
	// No labels at all: any discriminator selects nothing.
	return Union{Disc: discValue(dt, 0)}
}

// unusedLabel returns the smallest non-negative label value that no case
// of union t uses and that discriminator type dt can hold.
func unusedLabel(t *Type, dt *Type) (int64, bool) {
	used := make(map[int64]bool)
	for _, c := range t.Cases {
		for _, l := range c.Labels {
			used[l] = true
		}
	}
	limit := int64(1 << 16)
	switch dt.Kind {
	case giop.TkBoolean:
		limit = 2
	case giop.TkEnum:
		limit = int64(len(dt.Enumerators))
	case giop.TkChar, giop.TkOctet:
		limit = 256
	}
	for l := int64(0); l < limit; l++ {
		if !used[l] {
			return l, true
		}
	}
	return 0, false
}
