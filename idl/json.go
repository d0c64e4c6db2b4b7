package idl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/requestagent/requestagent/giop"
)

// JSON form of IDL values, for operators and tools. ToJSON and FromJSON map
// the Go representation (see the package documentation) to JSON and back:
//
//	boolean                 true / false
//	octet, integers         numbers; long long and unsigned long long are
//	                        written exactly and read without going through
//	                        float64, so every 64-bit value round-trips
//	float, double,          numbers; NaN and the infinities, which JSON
//	long double             lacks, as the strings "NaN", "Infinity",
//	                        "-Infinity"
//	char, wchar             a string of one character (char as ISO-8859-1)
//	string, wstring         strings
//	fixed                   a string such as "-12.50" (a number is accepted)
//	enum                    the enumerator's name
//	struct, exception       an object with every member, in declaration order
//	union                   {"discriminator": d, "value": v}; "value" is
//	                        absent when the discriminator selects no member
//	sequence, array         arrays, except that sequences and arrays of octet
//	                        (and Principal) are base64 strings (RFC 4648
//	                        standard alphabet, padded)
//	any                     {"type": T, "value": v}, where T describes the
//	                        type: IDL syntax for anonymous types ("long",
//	                        "sequence<string,4>", "fixed<9,2>", "long[2][3]")
//	                        and the repository id of a named one; an any of
//	                        a type containing a named type also carries
//	                        "typecode", the base64 of the TypeCode as a CDR
//	                        encapsulation, which is what FromJSON reads it by
//	TypeCode                {"type": T} and "typecode" as for an any
//	Object, interfaces      "IOR:..." strings; null for the nil reference
//	value types             null (only null values are supported)
//
// FromJSON refuses members that are missing or unknown, values out of
// range, and an any whose type is named only by repository id without a
// "typecode" (ErrUnsupported).

// ToJSON encodes v, a value of IDL type t, as JSON.
func ToJSON(t *Type, v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := jsonEncode(&buf, t, v, 0); err != nil {
		return nil, topPath(err)
	}
	return buf.Bytes(), nil
}

// FromJSON decodes JSON data holding a value of IDL type t.
func FromJSON(t *Type, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, &ValueError{Err: fmt.Errorf("%w: invalid JSON: %v", ErrMismatch, err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ValueError{Err: fmt.Errorf("%w: data after the JSON value", ErrMismatch)}
	}
	v, err := jsonDecode(t, x, 0)
	if err != nil {
		return nil, topPath(err)
	}
	return v, nil
}

// writeJSONString writes s as a JSON string, without the HTML escaping of
// json.Marshal (so "sequence<long>" stays readable).
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)               // cannot fail for a string
	buf.Truncate(buf.Len() - 1) // the newline Encode appends
}

func writeJSONFloat(buf *bytes.Buffer, f float64, bits int) {
	switch {
	case math.IsNaN(f):
		buf.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		buf.WriteString(`"Infinity"`)
	case math.IsInf(f, -1):
		buf.WriteString(`"-Infinity"`)
	default:
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	}
}

// typeCodeBase64 encodes t as a TypeCode in a little-endian CDR
// encapsulation, base64.
func typeCodeBase64(t *Type) (string, error) {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteBool(true) // byte order octet
	if err := writeTypeCode(e, t); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(e.Bytes()), nil
}

func typeCodeFromBase64(s string) (*Type, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, mismatch("typecode is not base64: %v", err)
	}
	d := giop.DecodeEncapsulation(b, giop.V1_2)
	if err := d.Err(); err != nil {
		return nil, &ValueError{Err: err}
	}
	t, err := readTypeCode(d)
	if err != nil {
		return nil, err
	}
	d.Done("TypeCode")
	if err := d.Err(); err != nil {
		return nil, &ValueError{Err: err}
	}
	return t, nil
}

// writeTypeJSON writes the "type" (and when needed "typecode") fields of
// an any or TypeCode, followed by a comma if more follows.
func writeTypeJSON(buf *bytes.Buffer, t *Type) error {
	spec, ok := typeSpec(t)
	buf.WriteString(`"type":`)
	writeJSONString(buf, spec)
	if !ok {
		tc, err := typeCodeBase64(t)
		if err != nil {
			return err
		}
		buf.WriteString(`,"typecode":`)
		writeJSONString(buf, tc)
	}
	return nil
}

func jsonEncode(buf *bytes.Buffer, t *Type, v any, depth int) error {
	if t == nil {
		return mismatch("no type")
	}
	if depth > maxValueDepth {
		return mismatch("value nested deeper than %d", maxValueDepth)
	}
	switch t.Kind {
	case giop.TkNull, giop.TkVoid:
		if v != nil {
			return wrongGo(t, "nil", v)
		}
		buf.WriteString("null")
	case giop.TkBoolean:
		x, ok := v.(bool)
		if !ok {
			return wrongGo(t, "bool", v)
		}
		buf.WriteString(strconv.FormatBool(x))
	case giop.TkOctet, giop.TkShort, giop.TkUShort, giop.TkLong, giop.TkULong,
		giop.TkLongLong, giop.TkULongLong:
		s, err := jsonInteger(t, v)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case giop.TkChar:
		x, ok := v.(byte)
		if !ok {
			return wrongGo(t, "byte", v)
		}
		writeJSONString(buf, string(rune(x)))
	case giop.TkWChar:
		x, ok := v.(rune)
		if !ok {
			return wrongGo(t, "rune", v)
		}
		writeJSONString(buf, string(x))
	case giop.TkFloat:
		x, ok := v.(float32)
		if !ok {
			return wrongGo(t, "float32", v)
		}
		writeJSONFloat(buf, float64(x), 32)
	case giop.TkDouble, giop.TkLongDouble:
		x, ok := v.(float64)
		if !ok {
			return wrongGo(t, "float64", v)
		}
		writeJSONFloat(buf, x, 64)
	case giop.TkString, giop.TkWString:
		x, ok := v.(string)
		if !ok {
			return wrongGo(t, "string", v)
		}
		if n := boundLen(t, x); t.Bound > 0 && uint64(n) > uint64(t.Bound) {
			return mismatch("%s of length %d exceeds its bound", describeType(t), n)
		}
		writeJSONString(buf, x)
	case giop.TkFixed:
		x, ok := v.(string)
		if !ok {
			return wrongGo(t, "a decimal string", v)
		}
		s, err := normalizeFixed(x, t)
		if err != nil {
			return err
		}
		writeJSONString(buf, s)
	case giop.TkEnum:
		idx, err := enumIndex(t, v)
		if err != nil {
			return err
		}
		writeJSONString(buf, t.Enumerators[idx])
	case giop.TkStruct, giop.TkExcept:
		x, ok := v.(map[string]any)
		if !ok {
			return wrongGo(t, "map[string]any", v)
		}
		buf.WriteByte('{')
		for i, mem := range t.Members {
			mv, ok := x[mem.Name]
			if !ok {
				return mismatch("member %q of %s is missing", mem.Name, describeType(t))
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, mem.Name)
			buf.WriteByte(':')
			if err := jsonEncode(buf, mem.Type, mv, depth+1); err != nil {
				return atPath(err, "."+mem.Name)
			}
		}
		if len(x) != len(t.Members) {
			return extraMember(t, x)
		}
		buf.WriteByte('}')
	case giop.TkUnion:
		u, label, err := unionArg(t, v)
		if err != nil {
			return err
		}
		buf.WriteString(`{"discriminator":`)
		if err := jsonEncode(buf, t.Disc, u.Disc, depth+1); err != nil {
			return atPath(err, ".(discriminator)")
		}
		if c := selectCase(t, label); c != nil {
			buf.WriteString(`,"value":`)
			if err := jsonEncode(buf, c.Type, u.Value, depth+1); err != nil {
				return atPath(err, "."+c.Name)
			}
		} else if u.Value != nil {
			return mismatch("discriminator %v selects no member of %s, but a value was given", u.Disc, describeType(t))
		}
		buf.WriteByte('}')
	case giop.TkSequence, giop.TkArray:
		el := resolveAlias(t.Elem)
		if el == nil {
			return mismatch("%s has no element type", describeType(t))
		}
		n, at, ok := sliceOf(v)
		if !ok {
			return wrongGo(t, "[]any", v)
		}
		if t.Kind == giop.TkSequence && t.Bound > 0 && uint64(n) > uint64(t.Bound) {
			return mismatch("sequence of %d exceeds the bound of %s", n, describeType(t))
		}
		if t.Kind == giop.TkArray && uint64(n) != uint64(t.Length) {
			return mismatch("%s wants %d elements, got %d", describeType(t), t.Length, n)
		}
		if el.Kind == giop.TkOctet {
			b, ok := v.([]byte)
			if !ok {
				b = make([]byte, n)
				for i := range b {
					x, ok := at(i).(byte)
					if !ok {
						return atPath(wrongGo(el, "byte", at(i)), fmt.Sprintf("[%d]", i))
					}
					b[i] = x
				}
			}
			writeJSONString(buf, base64.StdEncoding.EncodeToString(b))
			return nil
		}
		buf.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := jsonEncode(buf, t.Elem, at(i), depth+1); err != nil {
				return atPath(err, fmt.Sprintf("[%d]", i))
			}
		}
		buf.WriteByte(']')
	case giop.TkAlias:
		return jsonEncode(buf, t.Elem, v, depth+1)
	case giop.TkAny:
		a, at, err := anyArg(t, v)
		if err != nil {
			return err
		}
		buf.WriteByte('{')
		if err := writeTypeJSON(buf, at); err != nil {
			return atPath(err, "(any type)")
		}
		buf.WriteString(`,"value":`)
		if err := jsonEncode(buf, at, a.Value, depth+1); err != nil {
			return atPath(err, "(any)")
		}
		buf.WriteByte('}')
	case giop.TkTypeCode:
		x, err := typeCodeArg(t, v)
		if err != nil {
			return err
		}
		buf.WriteByte('{')
		if err := writeTypeJSON(buf, x); err != nil {
			return err
		}
		buf.WriteByte('}')
	case giop.TkObjref, giop.TkAbstractInterface:
		ior, ok := iorArg(v)
		if !ok {
			return wrongGo(t, "*giop.IOR", v)
		}
		if ior.IsNil() {
			buf.WriteString("null")
		} else {
			writeJSONString(buf, ior.String())
		}
	case giop.TkPrincipal:
		x, ok := v.([]byte)
		if !ok {
			return wrongGo(t, "[]byte", v)
		}
		writeJSONString(buf, base64.StdEncoding.EncodeToString(x))
	case giop.TkValue, giop.TkValueBox:
		if !isNilValue(v) {
			return unsupported("value type %s: only null values are supported", describeType(t))
		}
		buf.WriteString("null")
	default:
		return unsupported("no JSON form for a value of %s", describeType(t))
	}
	return nil
}

func boundLen(t *Type, s string) int {
	if t.Kind == giop.TkWString {
		return utf8.RuneCountInString(s)
	}
	return len(s)
}

// normalizeFixed checks s against fixed type t and returns it in the form
// Unmarshal produces.
func normalizeFixed(s string, t *Type) (string, error) {
	b, err := encodeFixed(s, t.Digits, t.Scale)
	if err != nil {
		return "", err
	}
	return decodeFixed(b, t.Digits, t.Scale)
}

// jsonInteger formats an integer value of kind t.Kind, checking its Go type.
func jsonInteger(t *Type, v any) (string, error) {
	switch t.Kind {
	case giop.TkOctet:
		if x, ok := v.(byte); ok {
			return strconv.FormatUint(uint64(x), 10), nil
		}
		return "", wrongGo(t, "byte", v)
	case giop.TkShort:
		if x, ok := v.(int16); ok {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return "", wrongGo(t, "int16", v)
	case giop.TkUShort:
		if x, ok := v.(uint16); ok {
			return strconv.FormatUint(uint64(x), 10), nil
		}
		return "", wrongGo(t, "uint16", v)
	case giop.TkLong:
		if x, ok := v.(int32); ok {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return "", wrongGo(t, "int32", v)
	case giop.TkULong:
		if x, ok := v.(uint32); ok {
			return strconv.FormatUint(uint64(x), 10), nil
		}
		return "", wrongGo(t, "uint32", v)
	case giop.TkLongLong:
		if x, ok := v.(int64); ok {
			return strconv.FormatInt(x, 10), nil
		}
		return "", wrongGo(t, "int64", v)
	default: // TkULongLong
		if x, ok := v.(uint64); ok {
			return strconv.FormatUint(x, 10), nil
		}
		return "", wrongGo(t, "uint64", v)
	}
}

func jsonWant(t *Type, want string, x any) error {
	got := "null"
	switch x.(type) {
	case bool:
		got = "a boolean"
	case json.Number:
		got = "a number"
	case string:
		got = "a string"
	case []any:
		got = "an array"
	case map[string]any:
		got = "an object"
	}
	return mismatch("%s wants %s, got %s", describeType(t), want, got)
}

func jsonDecode(t *Type, x any, depth int) (any, error) {
	if t == nil {
		return nil, mismatch("no type")
	}
	if depth > maxValueDepth {
		return nil, mismatch("value nested deeper than %d", maxValueDepth)
	}
	switch t.Kind {
	case giop.TkNull, giop.TkVoid:
		if x != nil {
			return nil, jsonWant(t, "null", x)
		}
		return nil, nil
	case giop.TkBoolean:
		b, ok := x.(bool)
		if !ok {
			return nil, jsonWant(t, "a boolean", x)
		}
		return b, nil
	case giop.TkOctet, giop.TkShort, giop.TkUShort, giop.TkLong, giop.TkULong,
		giop.TkLongLong, giop.TkULongLong:
		n, ok := x.(json.Number)
		if !ok {
			return nil, jsonWant(t, "an integer", x)
		}
		return parseJSONInteger(t, string(n))
	case giop.TkFloat, giop.TkDouble, giop.TkLongDouble:
		bits := 64
		if t.Kind == giop.TkFloat {
			bits = 32
		}
		var f float64
		switch y := x.(type) {
		case json.Number:
			var err error
			f, err = strconv.ParseFloat(string(y), bits)
			if err != nil {
				return nil, mismatch("%s is not a valid %s: %v", string(y), describeType(t), errors.Unwrap(err))
			}
		case string:
			switch y {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return nil, mismatch("%q is not a number", y)
			}
		default:
			return nil, jsonWant(t, "a number", x)
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case giop.TkChar, giop.TkWChar:
		s, ok := x.(string)
		if !ok {
			return nil, jsonWant(t, "a string of one character", x)
		}
		r, size := utf8.DecodeRuneInString(s)
		if size == 0 || size != len(s) || r == utf8.RuneError {
			return nil, mismatch("%s wants one character, got %q", describeType(t), s)
		}
		if t.Kind == giop.TkChar {
			if r > 0xFF {
				return nil, mismatch("char %q is not an ISO-8859-1 character", s)
			}
			return byte(r), nil
		}
		if r > 0xFFFF {
			return nil, mismatch("wchar %q does not fit one UTF-16 unit", s)
		}
		return r, nil
	case giop.TkString, giop.TkWString:
		s, ok := x.(string)
		if !ok {
			return nil, jsonWant(t, "a string", x)
		}
		if n := boundLen(t, s); t.Bound > 0 && uint64(n) > uint64(t.Bound) {
			return nil, mismatch("%s of length %d exceeds its bound", describeType(t), n)
		}
		return s, nil
	case giop.TkFixed:
		var s string
		switch y := x.(type) {
		case string:
			s = y
		case json.Number:
			s = string(y)
		default:
			return nil, jsonWant(t, "a decimal string", x)
		}
		return normalizeFixed(s, t)
	case giop.TkEnum:
		s, ok := x.(string)
		if !ok {
			return nil, jsonWant(t, "an enumerator name", x)
		}
		if _, err := enumIndex(t, s); err != nil {
			return nil, err
		}
		return s, nil
	case giop.TkStruct, giop.TkExcept:
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, jsonWant(t, "an object", x)
		}
		out := make(map[string]any, len(t.Members))
		for _, mem := range t.Members {
			mx, ok := obj[mem.Name]
			if !ok {
				return nil, mismatch("member %q of %s is missing", mem.Name, describeType(t))
			}
			v, err := jsonDecode(mem.Type, mx, depth+1)
			if err != nil {
				return nil, atPath(err, "."+mem.Name)
			}
			out[mem.Name] = v
		}
		if len(obj) != len(t.Members) {
			return nil, extraMember(t, obj)
		}
		return out, nil
	case giop.TkUnion:
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, jsonWant(t, `an object {"discriminator": d, "value": v}`, x)
		}
		for k := range obj {
			if k != "discriminator" && k != "value" {
				return nil, mismatch("union %s has no field %q (only \"discriminator\" and \"value\")", describeType(t), k)
			}
		}
		dt := resolveAlias(t.Disc)
		if dt == nil {
			return nil, mismatch("union %s has no discriminator type", describeType(t))
		}
		dx, ok := obj["discriminator"]
		if !ok {
			return nil, mismatch("union %s needs a \"discriminator\"", describeType(t))
		}
		dv, err := jsonDecode(dt, dx, depth+1)
		if err != nil {
			return nil, atPath(err, ".(discriminator)")
		}
		label, err := discLabel(dt, dv)
		if err != nil {
			return nil, atPath(err, ".(discriminator)")
		}
		u := Union{Disc: dv}
		vx, hasValue := obj["value"]
		if c := selectCase(t, label); c != nil {
			if !hasValue {
				return nil, mismatch("union %s: the discriminator selects member %q but there is no \"value\"", describeType(t), c.Name)
			}
			if u.Value, err = jsonDecode(c.Type, vx, depth+1); err != nil {
				return nil, atPath(err, "."+c.Name)
			}
		} else if vx != nil {
			return nil, mismatch("discriminator selects no member of %s, but a value was given", describeType(t))
		}
		return u, nil
	case giop.TkSequence, giop.TkArray:
		el := resolveAlias(t.Elem)
		if el == nil {
			return nil, mismatch("%s has no element type", describeType(t))
		}
		var n int
		var b []byte
		var xs []any
		if el.Kind == giop.TkOctet {
			s, ok := x.(string)
			if !ok {
				return nil, jsonWant(t, "a base64 string", x)
			}
			var err error
			if b, err = base64.StdEncoding.DecodeString(s); err != nil {
				return nil, mismatch("%s: invalid base64: %v", describeType(t), err)
			}
			n = len(b)
		} else {
			var ok bool
			if xs, ok = x.([]any); !ok {
				return nil, jsonWant(t, "an array", x)
			}
			n = len(xs)
		}
		if t.Kind == giop.TkSequence && t.Bound > 0 && uint64(n) > uint64(t.Bound) {
			return nil, mismatch("sequence of %d exceeds the bound of %s", n, describeType(t))
		}
		if t.Kind == giop.TkArray && uint64(n) != uint64(t.Length) {
			return nil, mismatch("%s wants %d elements, got %d", describeType(t), t.Length, n)
		}
		if el.Kind == giop.TkOctet {
			return b, nil
		}
		out := make([]any, n)
		for i := range xs {
			v, err := jsonDecode(t.Elem, xs[i], depth+1)
			if err != nil {
				return nil, atPath(err, fmt.Sprintf("[%d]", i))
			}
			out[i] = v
		}
		return out, nil
	case giop.TkAlias:
		return jsonDecode(t.Elem, x, depth+1)
	case giop.TkAny:
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, jsonWant(t, `an object {"type": T, "value": v}`, x)
		}
		at, err := jsonType(obj, "value")
		if err != nil {
			return nil, atPath(err, "(any type)")
		}
		v, err := jsonDecode(at, obj["value"], depth+1)
		if err != nil {
			return nil, atPath(err, "(any)")
		}
		return Any{Type: at, Value: v}, nil
	case giop.TkTypeCode:
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, jsonWant(t, `an object {"type": T}`, x)
		}
		return jsonType(obj, "")
	case giop.TkObjref, giop.TkAbstractInterface:
		if x == nil {
			return (*giop.IOR)(nil), nil
		}
		s, ok := x.(string)
		if !ok {
			return nil, jsonWant(t, `an "IOR:..." string or null`, x)
		}
		ior, err := giop.ParseIOR(s)
		if err != nil {
			return nil, mismatch("%v", err)
		}
		if ior.IsNil() {
			return (*giop.IOR)(nil), nil
		}
		return ior, nil
	case giop.TkPrincipal:
		s, ok := x.(string)
		if !ok {
			return nil, jsonWant(t, "a base64 string", x)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, mismatch("Principal: invalid base64: %v", err)
		}
		return b, nil
	case giop.TkValue, giop.TkValueBox:
		if x != nil {
			return nil, unsupported("value type %s: only null values are supported", describeType(t))
		}
		return nil, nil
	}
	return nil, unsupported("no JSON form for a value of %s", describeType(t))
}

func parseJSONInteger(t *Type, s string) (any, error) {
	var bits int
	signed := false
	switch t.Kind {
	case giop.TkOctet:
		bits = 8
	case giop.TkShort:
		bits, signed = 16, true
	case giop.TkUShort:
		bits = 16
	case giop.TkLong:
		bits, signed = 32, true
	case giop.TkULong:
		bits = 32
	case giop.TkLongLong:
		bits, signed = 64, true
	default:
		bits = 64
	}
	if signed {
		i, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, mismatch("%s is not a valid %s", s, describeType(t))
		}
		switch bits {
		case 16:
			return int16(i), nil
		case 32:
			return int32(i), nil
		}
		return i, nil
	}
	u, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return nil, mismatch("%s is not a valid %s", s, describeType(t))
	}
	switch bits {
	case 8:
		return byte(u), nil
	case 16:
		return uint16(u), nil
	case 32:
		return uint32(u), nil
	}
	return u, nil
}

// jsonType reads the type of a JSON any or TypeCode: "typecode" when
// present, else the description in "type". extra names the one other
// field allowed.
func jsonType(obj map[string]any, extra string) (*Type, error) {
	for k := range obj {
		if k != "type" && k != "typecode" && (extra == "" || k != extra) {
			return nil, mismatch("unexpected field %q", k)
		}
	}
	if tc, ok := obj["typecode"]; ok {
		s, ok := tc.(string)
		if !ok {
			return nil, mismatch("\"typecode\" must be a base64 string")
		}
		return typeCodeFromBase64(s)
	}
	spec, ok := obj["type"].(string)
	if !ok {
		return nil, mismatch("missing \"type\"")
	}
	return parseTypeSpec(spec)
}

// parseTypeSpec reads the IDL-syntax description of an anonymous type
// written by typeSpec.
func parseTypeSpec(spec string) (*Type, error) {
	p := specParser{toks: tokenizeSpec(spec)}
	t, err := p.spec(0)
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	if err != nil {
		if strings.HasPrefix(spec, "IDL:") || strings.Contains(spec, "::") || strings.Contains(spec, ":") {
			return nil, unsupported("type %q is named, not described; a JSON any or TypeCode of a named type needs its \"typecode\"", spec)
		}
		return nil, mismatch("type %q: %v", spec, err)
	}
	return t, nil
}

func tokenizeSpec(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("<>,[]", c) >= 0:
			toks = append(toks, s[i:i+1])
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t<>,[]", s[j]) < 0 {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type specParser struct {
	toks []string
	i    int
}

func (p *specParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *specParser) next() string {
	s := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return s
}

func (p *specParser) expect(s string) error {
	if got := p.next(); got != s {
		return fmt.Errorf("expected %q, found %q", s, got)
	}
	return nil
}

func (p *specParser) number() (uint32, error) {
	s := p.next()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("expected a number, found %q", s)
	}
	return uint32(n), nil
}

var specKinds = map[string]Kind{
	"null": giop.TkNull, "void": giop.TkVoid, "short": giop.TkShort, "long": giop.TkLong,
	"float": giop.TkFloat, "double": giop.TkDouble, "boolean": giop.TkBoolean,
	"char": giop.TkChar, "octet": giop.TkOctet, "any": giop.TkAny, "TypeCode": giop.TkTypeCode,
	"Principal": giop.TkPrincipal, "wchar": giop.TkWChar,
}

func (p *specParser) spec(depth int) (*Type, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxValueDepth)
	}
	var t *Type
	switch w := p.next(); w {
	case "unsigned":
		switch p.next() {
		case "short":
			t = &Type{Kind: giop.TkUShort}
		case "long":
			t = &Type{Kind: giop.TkULong}
			if p.peek() == "long" {
				p.next()
				t.Kind = giop.TkULongLong
			}
		default:
			return nil, fmt.Errorf("expected short or long after unsigned")
		}
	case "long":
		t = &Type{Kind: giop.TkLong}
		switch p.peek() {
		case "long":
			p.next()
			t.Kind = giop.TkLongLong
		case "double":
			p.next()
			t.Kind = giop.TkLongDouble
		}
	case "string", "wstring":
		t = &Type{Kind: giop.TkString}
		if w == "wstring" {
			t.Kind = giop.TkWString
		}
		if p.peek() == "<" {
			p.next()
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			t.Bound = n
			if err := p.expect(">"); err != nil {
				return nil, err
			}
		}
	case "fixed":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		digits, err := p.number()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		scale, err := p.number()
		if err != nil {
			return nil, err
		}
		if digits > maxFixedDigits || scale > digits {
			return nil, fmt.Errorf("fixed<%d,%d> is not a valid fixed type", digits, scale)
		}
		t = &Type{Kind: giop.TkFixed, Digits: uint16(digits), Scale: int16(scale)}
		if err := p.expect(">"); err != nil {
			return nil, err
		}
	case "sequence":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		el, err := p.spec(depth + 1)
		if err != nil {
			return nil, err
		}
		t = &Type{Kind: giop.TkSequence, Elem: el}
		if p.peek() == "," {
			p.next()
			if t.Bound, err = p.number(); err != nil {
				return nil, err
			}
		}
		if err := p.expect(">"); err != nil {
			return nil, err
		}
	case "Object":
		t = &Type{Kind: giop.TkObjref, RepoID: objectRepoID, Name: "Object"}
	default:
		k, ok := specKinds[w]
		if !ok {
			return nil, fmt.Errorf("unknown type %q", w)
		}
		t = &Type{Kind: k}
	}
	// Array dimensions: long[2][3] is 2 arrays of 3 longs.
	var dims []uint32
	for p.peek() == "[" {
		p.next()
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		if len(dims) >= 16 {
			return nil, fmt.Errorf("too many array dimensions")
		}
		dims = append(dims, n)
	}
	for i := len(dims) - 1; i >= 0; i-- {
		t = &Type{Kind: giop.TkArray, Elem: t, Length: dims[i]}
	}
	return t, nil
}
