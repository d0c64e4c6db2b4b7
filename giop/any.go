package giop

import "fmt"

// Any is a CORBA any: a TypeCode and a value. Values of the kinds this
// package understands are Go values:
//
//	boolean bool, octet byte, char byte, wchar rune, short int16,
//	ushort uint16, long int32, ulong uint32, longlong int64,
//	ulonglong uint64, float float32, double float64, string and wstring
//	string, sequence<octet> []byte, other sequences []any, null and void nil.
type Any struct {
	Type  *TypeCode
	Value any
}

// String formats the any for logs.
func (a Any) String() string { return fmt.Sprintf("%v(%v)", a.Type, a.Value) }

// WriteAny encodes an any. It fails (via the returned error) when the value
// does not match the TypeCode or the kind is one this package cannot encode.
func (e *Encoder) WriteAny(a Any) error {
	if a.Type == nil {
		a.Type = TCNull
	}
	e.WriteTypeCode(a.Type)
	return e.writeValue(a.Type, a.Value, 0)
}

func (e *Encoder) writeValue(tc *TypeCode, v any, depth int) error {
	if depth > maxTypeCodeDepth {
		return fmt.Errorf("%w: value nested deeper than %d", ErrMarshal, maxTypeCodeDepth)
	}
	bad := func() error {
		return fmt.Errorf("%w: value %T does not match TypeCode %v", ErrMarshal, v, tc)
	}
	switch tc.Kind {
	case TkNull, TkVoid:
		return nil
	case TkAlias:
		if tc.Content == nil {
			return bad()
		}
		return e.writeValue(tc.Content, v, depth+1)
	case TkBoolean:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		e.WriteBool(x)
	case TkOctet, TkChar:
		x, ok := v.(byte)
		if !ok {
			return bad()
		}
		e.WriteOctet(x)
	case TkWChar:
		x, ok := v.(rune)
		if !ok {
			return bad()
		}
		e.WriteWChar(x)
	case TkShort:
		x, ok := v.(int16)
		if !ok {
			return bad()
		}
		e.WriteShort(x)
	case TkUShort:
		x, ok := v.(uint16)
		if !ok {
			return bad()
		}
		e.WriteUShort(x)
	case TkLong:
		x, ok := v.(int32)
		if !ok {
			return bad()
		}
		e.WriteLong(x)
	case TkULong:
		x, ok := v.(uint32)
		if !ok {
			return bad()
		}
		e.WriteULong(x)
	case TkLongLong:
		x, ok := v.(int64)
		if !ok {
			return bad()
		}
		e.WriteLongLong(x)
	case TkULongLong:
		x, ok := v.(uint64)
		if !ok {
			return bad()
		}
		e.WriteULongLong(x)
	case TkFloat:
		x, ok := v.(float32)
		if !ok {
			return bad()
		}
		e.WriteFloat(x)
	case TkDouble:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		e.WriteDouble(x)
	case TkString, TkWString:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		if tc.Bound > 0 && uint32(len(x)) > tc.Bound {
			return fmt.Errorf("%w: string of %d bytes exceeds bound %d", ErrMarshal, len(x), tc.Bound)
		}
		if tc.Kind == TkString {
			e.WriteString(x)
		} else {
			e.WriteWString(x)
		}
	case TkSequence:
		if tc.Content == nil {
			return bad()
		}
		if el := tc.Content.Unalias(); el != nil && el.Kind == TkOctet {
			x, ok := v.([]byte)
			if !ok {
				return bad()
			}
			e.WriteOctets(x)
			return nil
		}
		xs, ok := v.([]any)
		if !ok {
			return bad()
		}
		if tc.Bound > 0 && uint32(len(xs)) > tc.Bound {
			return fmt.Errorf("%w: sequence of %d exceeds bound %d", ErrMarshal, len(xs), tc.Bound)
		}
		e.WriteULong(uint32(len(xs)))
		for _, x := range xs {
			if err := e.writeValue(tc.Content, x, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: cannot encode a value of TypeCode kind %v", ErrMarshal, tc.Kind)
	}
	return nil
}

// Any decodes an any. Values of kinds this package does not understand are
// a MARSHAL error that names the kind.
func (d *Decoder) Any() Any {
	tc := d.TypeCode()
	if d.err != nil {
		return Any{}
	}
	return Any{Type: tc, Value: d.value(tc, 0)}
}

// minWireSize is the smallest encoding of a value of the kind, used to
// bound sequence lengths before allocating.
func minWireSize(tc *TypeCode) int {
	switch tc.Kind {
	case TkShort, TkUShort:
		return 2
	case TkLong, TkULong, TkFloat, TkString, TkWString, TkSequence:
		return 4
	case TkLongLong, TkULongLong, TkDouble:
		return 8
	}
	return 1
}

func (d *Decoder) value(tc *TypeCode, depth int) any {
	if depth > maxTypeCodeDepth {
		d.fail("value nested deeper than %d", maxTypeCodeDepth)
		return nil
	}
	switch tc.Kind {
	case TkNull, TkVoid:
		return nil
	case TkAlias:
		return d.value(tc.Content, depth+1)
	case TkBoolean:
		return d.Bool()
	case TkOctet:
		return d.Octet()
	case TkChar:
		return d.Char()
	case TkWChar:
		return d.WChar()
	case TkShort:
		return d.Short()
	case TkUShort:
		return d.UShort()
	case TkLong:
		return d.Long()
	case TkULong:
		return d.ULong()
	case TkLongLong:
		return d.LongLong()
	case TkULongLong:
		return d.ULongLong()
	case TkFloat:
		return d.Float()
	case TkDouble:
		return d.Double()
	case TkString:
		s := d.String()
		if tc.Bound > 0 && uint32(len(s)) > tc.Bound {
			d.fail("string of %d bytes exceeds bound %d", len(s), tc.Bound)
		}
		return s
	case TkWString:
		return d.WString()
	case TkSequence:
		el := tc.Content.Unalias()
		if el == nil {
			d.fail("sequence without element type")
			return nil
		}
		if el.Kind == TkOctet {
			return d.Octets()
		}
		if el.Kind == TkNull || el.Kind == TkVoid {
			// Not valid IDL, and its elements take no bytes, so the length
			// check below could not bound the allocation.
			d.fail("sequence of %v", el.Kind)
			return nil
		}
		n := d.SeqLen(minWireSize(el))
		if tc.Bound > 0 && uint32(n) > tc.Bound {
			d.fail("sequence of %d exceeds bound %d", n, tc.Bound)
		}
		if d.err != nil {
			return nil
		}
		xs := make([]any, n)
		for i := range xs {
			xs[i] = d.value(tc.Content, depth+1)
			if d.err != nil {
				return nil
			}
		}
		return xs
	}
	d.fail("cannot decode a value of TypeCode kind %v", tc.Kind)
	return nil
}
