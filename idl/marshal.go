package idl

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/requestagent/requestagent/giop"
)

// maxValueDepth bounds the nesting of values (and of TypeCodes) on both the
// encoding and the decoding side, against stack exhaustion by hostile input
// or runaway recursive types.
const maxValueDepth = 64

// maxZeroProgress bounds how many values that consume no bytes at all (empty
// structs, arrays of them) one Unmarshal may decode, so that a hostile
// TypeCode sharing empty types through indirections cannot make the decoder
// work exponentially long on a few bytes.
const maxZeroProgress = 1 << 14

// maxFixedDigits is the most digits of a fixed type (CORBA 3.0 §3.11.3.4).
const maxFixedDigits = 31

// Marshal encodes v, the Go value of a value of IDL type t (see the package
// documentation for the Go representation of each type), with e in e's byte
// order and GIOP version. Errors are *ValueError naming the path of the bad
// part of v and wrapping ErrMismatch or ErrUnsupported; after an error e
// holds a partial encoding.
//
// For convenience Marshal also takes int for the integer types, uint32 or
// int (the index) for an enum, *Union and *Any, and any Go slice or array
// (such as []string or []int32) for a sequence or array.
//
// Beyond the table in the package documentation: long double is a float64
// (converted exactly to IEEE binary128 on the way out, rounded to nearest
// on the way in); a value type or value box marshals only its null value
// (Go nil, written as the null tag 0) and anything else fails with
// ErrUnsupported; an abstract interface is a *giop.IOR; Principal is a
// []byte; wchar and wstring fail with ErrUnsupported in GIOP 1.0, which
// has no encoding for them.
func Marshal(e *giop.Encoder, t *Type, v any) error {
	enc := valueEncoder{e: e}
	return topPath(enc.value(t, v, 0))
}

// Unmarshal decodes a value of IDL type t from d. Errors are *ValueError
// naming the path of the bad part, wrapping giop.ErrMarshal (bad or
// truncated CDR), ErrMismatch (a bound or enumerator out of range) or
// ErrUnsupported; the error is also recorded on d. Lengths are checked
// against the bytes left before anything is allocated.
func Unmarshal(d *giop.Decoder, t *Type) (any, error) {
	dec := newValueDecoder(d)
	v, err := dec.value(t, 0)
	if err != nil {
		err = topPath(err)
		d.SetErr(err)
		return nil, err
	}
	return v, nil
}

// valueEncoder marshals Go values.
type valueEncoder struct {
	e *giop.Encoder
}

func mismatch(format string, args ...any) error {
	return &ValueError{Err: fmt.Errorf("%w: "+format, append([]any{ErrMismatch}, args...)...)}
}

func unsupported(format string, args ...any) error {
	return &ValueError{Err: fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)}
}

func wrongGo(t *Type, want string, v any) error {
	return mismatch("%s wants %s, got %s", describeType(t), want, goTypeName(v))
}

func goTypeName(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// intArg accepts the exact Go type of an integer kind (via the caller's
// type switch) or an int within [lo, hi].
func intArg(v any, lo, hi int64) (int64, bool) {
	x, ok := v.(int)
	if !ok || int64(x) < lo || int64(x) > hi {
		return 0, false
	}
	return int64(x), true
}

// integer takes a value of the integer type T, or a Go int within
// [lo, hi] (literals in callers' code are ints).
func integer[T ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64](v any, lo, hi int64) (T, bool) {
	if x, ok := v.(T); ok {
		return x, true
	}
	i, ok := intArg(v, lo, hi)
	return T(i), ok
}

func (m *valueEncoder) value(t *Type, v any, depth int) error {
	if t == nil {
		return mismatch("no type")
	}
	if depth > maxValueDepth {
		return mismatch("value nested deeper than %d", maxValueDepth)
	}
	e := m.e
	switch t.Kind {
	case giop.TkNull, giop.TkVoid:
		if v != nil {
			return wrongGo(t, "nil", v)
		}
	case giop.TkBoolean:
		x, ok := v.(bool)
		if !ok {
			return wrongGo(t, "bool", v)
		}
		e.WriteBool(x)
	case giop.TkOctet, giop.TkChar:
		x, ok := integer[byte](v, 0, math.MaxUint8)
		if !ok {
			return wrongGo(t, "byte", v)
		}
		e.WriteOctet(x)
	case giop.TkWChar:
		x, ok := integer[rune](v, 0, utf8.MaxRune)
		if !ok {
			return wrongGo(t, "rune", v)
		}
		if err := m.checkWide(t); err != nil {
			return err
		}
		if x > 0xFFFF || (x >= 0xD800 && x < 0xE000) {
			return mismatch("wchar %U does not fit one UTF-16 unit", x)
		}
		e.WriteWChar(x)
	case giop.TkShort:
		x, ok := integer[int16](v, math.MinInt16, math.MaxInt16)
		if !ok {
			return wrongGo(t, "int16", v)
		}
		e.WriteShort(x)
	case giop.TkUShort:
		x, ok := integer[uint16](v, 0, math.MaxUint16)
		if !ok {
			return wrongGo(t, "uint16", v)
		}
		e.WriteUShort(x)
	case giop.TkLong:
		x, ok := integer[int32](v, math.MinInt32, math.MaxInt32)
		if !ok {
			return wrongGo(t, "int32", v)
		}
		e.WriteLong(x)
	case giop.TkULong:
		x, ok := integer[uint32](v, 0, math.MaxUint32)
		if !ok {
			return wrongGo(t, "uint32", v)
		}
		e.WriteULong(x)
	case giop.TkLongLong:
		x, ok := integer[int64](v, math.MinInt64, math.MaxInt64)
		if !ok {
			return wrongGo(t, "int64", v)
		}
		e.WriteLongLong(x)
	case giop.TkULongLong:
		x, ok := integer[uint64](v, 0, math.MaxInt64)
		if !ok {
			return wrongGo(t, "uint64", v)
		}
		e.WriteULongLong(x)
	case giop.TkFloat:
		x, ok := v.(float32)
		if !ok {
			return wrongGo(t, "float32", v)
		}
		e.WriteFloat(x)
	case giop.TkDouble:
		x, ok := v.(float64)
		if !ok {
			return wrongGo(t, "float64", v)
		}
		e.WriteDouble(x)
	case giop.TkLongDouble:
		x, ok := v.(float64)
		if !ok {
			return wrongGo(t, "float64", v)
		}
		hi, lo := float64ToQuad(x)
		e.Align(8)
		if e.LittleEndian() {
			e.WriteULongLong(lo)
			e.WriteULongLong(hi)
		} else {
			e.WriteULongLong(hi)
			e.WriteULongLong(lo)
		}
	case giop.TkString:
		x, ok := v.(string)
		if !ok {
			return wrongGo(t, "string", v)
		}
		if t.Bound > 0 && uint64(len(x)) > uint64(t.Bound) {
			return mismatch("string of %d bytes exceeds the bound of %s", len(x), describeType(t))
		}
		if strings.IndexByte(x, 0) >= 0 {
			return mismatch("string contains a NUL byte")
		}
		e.WriteString(x)
	case giop.TkWString:
		x, ok := v.(string)
		if !ok {
			return wrongGo(t, "string", v)
		}
		if err := m.checkWide(t); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(x); t.Bound > 0 && uint64(n) > uint64(t.Bound) {
			return mismatch("wstring of %d characters exceeds the bound of %s", n, describeType(t))
		}
		if strings.IndexByte(x, 0) >= 0 {
			return mismatch("wstring contains a NUL character")
		}
		e.WriteWString(x)
	case giop.TkFixed:
		x, ok := v.(string)
		if !ok {
			return wrongGo(t, "a decimal string", v)
		}
		b, err := encodeFixed(x, t.Digits, t.Scale)
		if err != nil {
			return err
		}
		e.WriteRaw(b)
	case giop.TkEnum:
		idx, err := enumIndex(t, v)
		if err != nil {
			return err
		}
		e.WriteULong(idx)
	case giop.TkStruct, giop.TkExcept:
		x, ok := v.(map[string]any)
		if !ok {
			return wrongGo(t, "map[string]any", v)
		}
		return m.members(t, x, depth)
	case giop.TkUnion:
		return m.union(t, v, depth)
	case giop.TkSequence:
		return m.sequence(t, v, depth)
	case giop.TkArray:
		return m.array(t, v, depth)
	case giop.TkAlias:
		return m.value(t.Elem, v, depth+1)
	case giop.TkAny:
		a, at, err := anyArg(t, v)
		if err != nil {
			return err
		}
		if err := writeTypeCode(e, at); err != nil {
			return atPath(err, "(any type)")
		}
		return atPath(m.value(at, a.Value, depth+1), "(any)")
	case giop.TkObjref:
		ior, ok := iorArg(v)
		if !ok {
			return wrongGo(t, "*giop.IOR", v)
		}
		e.WriteIOR(ior)
	case giop.TkAbstractInterface:
		ior, ok := iorArg(v)
		if !ok {
			return wrongGo(t, "*giop.IOR (value types are not supported)", v)
		}
		e.WriteBool(true) // the union's objref branch (§15.3.7)
		e.WriteIOR(ior)
	case giop.TkTypeCode:
		x, err := typeCodeArg(t, v)
		if err != nil {
			return err
		}
		return writeTypeCode(e, x)
	case giop.TkPrincipal:
		x, ok := v.([]byte)
		if !ok {
			return wrongGo(t, "[]byte", v)
		}
		e.WriteOctets(x)
	case giop.TkValue, giop.TkValueBox:
		if !isNilValue(v) {
			return unsupported("value type %s: only null values can be marshalled", describeType(t))
		}
		e.WriteULong(0) // null_tag (§15.3.4.1)
	default:
		return unsupported("cannot marshal a value of %s", describeType(t))
	}
	return nil
}

// checkWide refuses wchar and wstring in GIOP 1.0, which has no encoding
// for them (§15.3.1.6).
func (m *valueEncoder) checkWide(t *Type) error {
	if !m.e.Version().AtLeast(giop.V1_1) {
		return unsupported("%s cannot be sent in GIOP 1.0", t.Kind)
	}
	return nil
}

func isNilValue(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// iorArg accepts a *giop.IOR (nil for the nil reference) or an untyped nil.
func iorArg(v any) (*giop.IOR, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case *giop.IOR:
		return x, true
	}
	return nil, false
}

func enumIndex(t *Type, v any) (uint32, error) {
	switch x := v.(type) {
	case string:
		for i, n := range t.Enumerators {
			if n == x {
				return uint32(i), nil
			}
		}
		return 0, mismatch("%q is not an enumerator of %s", x, describeType(t))
	case uint32:
		if uint64(x) < uint64(len(t.Enumerators)) {
			return x, nil
		}
		return 0, mismatch("enumerator index %d out of range for %s (%d enumerators)", x, describeType(t), len(t.Enumerators))
	case int:
		if x >= 0 && x < len(t.Enumerators) {
			return uint32(x), nil
		}
		return 0, mismatch("enumerator index %d out of range for %s (%d enumerators)", x, describeType(t), len(t.Enumerators))
	}
	return 0, wrongGo(t, "string (an enumerator name)", v)
}

// members writes the members of a struct or exception, in order, checking
// that x has exactly those members.
func (m *valueEncoder) members(t *Type, x map[string]any, depth int) error {
	for _, mem := range t.Members {
		mv, ok := x[mem.Name]
		if !ok {
			return atPath(mismatch("member %q of %s is missing", mem.Name, describeType(t)), "")
		}
		if err := m.value(mem.Type, mv, depth+1); err != nil {
			return atPath(err, "."+mem.Name)
		}
	}
	if len(x) != len(t.Members) {
		return extraMember(t, x)
	}
	return nil
}

func extraMember(t *Type, x map[string]any) error {
	known := make(map[string]bool, len(t.Members))
	for _, mem := range t.Members {
		known[mem.Name] = true
	}
	var extra []string
	for k := range x {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return mismatch("%s has no member %q", describeType(t), extra[0])
}

// unionArg takes a union's Go value (Union or *Union) and the case label
// of its discriminator; the CDR and JSON encoders share it.
func unionArg(t *Type, v any) (Union, int64, error) {
	var u Union
	switch x := v.(type) {
	case Union:
		u = x
	case *Union:
		if x == nil {
			return u, 0, wrongGo(t, "Union", v)
		}
		u = *x
	default:
		return u, 0, wrongGo(t, "Union", v)
	}
	dt := resolveAlias(t.Disc)
	if dt == nil {
		return u, 0, mismatch("union %s has no discriminator type", describeType(t))
	}
	label, err := discLabel(dt, u.Disc)
	if err != nil {
		return u, 0, atPath(err, ".(discriminator)")
	}
	return u, label, nil
}

func (m *valueEncoder) union(t *Type, v any, depth int) error {
	u, label, err := unionArg(t, v)
	if err != nil {
		return err
	}
	if err := m.value(t.Disc, u.Disc, depth+1); err != nil {
		// discLabel accepted forms (uint32 or int for an enum) that
		// value does too; anything else was refused above.
		return atPath(err, ".(discriminator)")
	}
	c := selectCase(t, label)
	if c == nil {
		if u.Value != nil {
			return mismatch("discriminator %v selects no member of %s, but a value was given", u.Disc, describeType(t))
		}
		return nil
	}
	return atPath(m.value(c.Type, u.Value, depth+1), "."+c.Name)
}

// selectCase returns the case of union t that the label selects: the case
// with that label, else the default case, else nil.
func selectCase(t *Type, label int64) *UnionCase {
	var def *UnionCase
	for i := range t.Cases {
		c := &t.Cases[i]
		for _, l := range c.Labels {
			if l == label {
				return c
			}
		}
		if c.IsDefault {
			def = c
		}
	}
	return def
}

// discLabel converts a discriminator value to the int64 form of union case
// labels (see UnionCase.Labels).
func discLabel(dt *Type, v any) (int64, error) {
	switch dt.Kind {
	case giop.TkBoolean:
		if x, ok := v.(bool); ok {
			if x {
				return 1, nil
			}
			return 0, nil
		}
		return 0, wrongGo(dt, "bool", v)
	case giop.TkEnum:
		idx, err := enumIndex(dt, v)
		return int64(idx), err
	case giop.TkShort, giop.TkUShort, giop.TkLong, giop.TkULong, giop.TkLongLong,
		giop.TkULongLong, giop.TkChar, giop.TkWChar, giop.TkOctet:
		switch x := v.(type) {
		case int16:
			return int64(x), kindIs(dt, v, giop.TkShort)
		case uint16:
			return int64(x), kindIs(dt, v, giop.TkUShort)
		case int32: // also rune
			if dt.Kind == giop.TkWChar {
				return int64(x), nil
			}
			return int64(x), kindIs(dt, v, giop.TkLong)
		case uint32:
			return int64(x), kindIs(dt, v, giop.TkULong)
		case int64:
			return x, kindIs(dt, v, giop.TkLongLong)
		case uint64:
			return int64(x), kindIs(dt, v, giop.TkULongLong)
		case byte:
			if dt.Kind == giop.TkChar || dt.Kind == giop.TkOctet {
				return int64(x), nil
			}
		case int:
			return int64(x), nil // range-checked when the discriminator is written
		}
		return 0, wrongGo(dt, goKindName(dt.Kind), v)
	}
	return 0, mismatch("%s cannot discriminate a union", describeType(dt))
}

func kindIs(dt *Type, v any, k Kind) error {
	if dt.Kind != k {
		return wrongGo(dt, goKindName(dt.Kind), v)
	}
	return nil
}

func goKindName(k Kind) string {
	switch k {
	case giop.TkShort:
		return "int16"
	case giop.TkUShort:
		return "uint16"
	case giop.TkLong:
		return "int32"
	case giop.TkULong:
		return "uint32"
	case giop.TkLongLong:
		return "int64"
	case giop.TkULongLong:
		return "uint64"
	case giop.TkChar, giop.TkOctet:
		return "byte"
	case giop.TkWChar:
		return "rune"
	case giop.TkBoolean:
		return "bool"
	}
	return k.String()
}

// discValue is the Go value of discriminator type dt for a label.
func discValue(dt *Type, label int64) any {
	switch dt.Kind {
	case giop.TkBoolean:
		return label != 0
	case giop.TkEnum:
		if label >= 0 && label < int64(len(dt.Enumerators)) {
			return dt.Enumerators[label]
		}
		return nil
	case giop.TkShort:
		return int16(label)
	case giop.TkUShort:
		return uint16(label)
	case giop.TkLong:
		return int32(label)
	case giop.TkULong:
		return uint32(label)
	case giop.TkLongLong:
		return label
	case giop.TkULongLong:
		return uint64(label)
	case giop.TkChar, giop.TkOctet:
		return byte(label)
	case giop.TkWChar:
		return rune(label)
	}
	return nil
}

// sliceOf returns the elements of a Go slice or array v as a function of
// the index, and its length; ok is false for other values.
func sliceOf(v any) (n int, at func(int) any, ok bool) {
	switch x := v.(type) {
	case []any:
		return len(x), func(i int) any { return x[i] }, true
	case nil:
		return 0, nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return 0, nil, false
	}
	return rv.Len(), func(i int) any { return rv.Index(i).Interface() }, true
}

func (m *valueEncoder) sequence(t *Type, v any, depth int) error {
	el := resolveAlias(t.Elem)
	if el == nil {
		return mismatch("%s has no element type", describeType(t))
	}
	if b, ok := v.([]byte); ok && el.Kind == giop.TkOctet {
		if t.Bound > 0 && uint64(len(b)) > uint64(t.Bound) {
			return mismatch("sequence of %d exceeds the bound of %s", len(b), describeType(t))
		}
		m.e.WriteOctets(b)
		return nil
	}
	xs, isAny := v.([]any)
	n, at, ok := len(xs), (func(int) any)(nil), isAny
	if !isAny {
		n, at, ok = sliceOf(v)
	}
	if !ok {
		if el.Kind == giop.TkOctet {
			return wrongGo(t, "[]byte", v)
		}
		return wrongGo(t, "[]any", v)
	}
	if t.Bound > 0 && uint64(n) > uint64(t.Bound) {
		return mismatch("sequence of %d exceeds the bound of %s", n, describeType(t))
	}
	if uint64(n) > math.MaxUint32 {
		return mismatch("sequence of %d elements is too long for CDR", n)
	}
	m.e.WriteULong(uint32(n))
	return m.elements(t, xs, n, at, depth)
}

// elements writes n elements, taken from xs when at is nil.
func (m *valueEncoder) elements(t *Type, xs []any, n int, at func(int) any, depth int) error {
	for i := 0; i < n; i++ {
		var x any
		if at == nil {
			x = xs[i]
		} else {
			x = at(i)
		}
		if err := m.value(t.Elem, x, depth+1); err != nil {
			return atPath(err, fmt.Sprintf("[%d]", i))
		}
	}
	return nil
}

func (m *valueEncoder) array(t *Type, v any, depth int) error {
	el := resolveAlias(t.Elem)
	if el == nil {
		return mismatch("%s has no element type", describeType(t))
	}
	if b, ok := v.([]byte); ok && el.Kind == giop.TkOctet {
		if uint64(len(b)) != uint64(t.Length) {
			return mismatch("%s wants %d elements, got %d", describeType(t), t.Length, len(b))
		}
		m.e.WriteRaw(b)
		return nil
	}
	xs, isAny := v.([]any)
	n, at, ok := len(xs), (func(int) any)(nil), isAny
	if !isAny {
		n, at, ok = sliceOf(v)
	}
	if !ok {
		if el.Kind == giop.TkOctet {
			return wrongGo(t, "[]byte", v)
		}
		return wrongGo(t, "[]any", v)
	}
	if uint64(n) != uint64(t.Length) {
		return mismatch("%s wants %d elements, got %d", describeType(t), t.Length, n)
	}
	return m.elements(t, xs, n, at, depth)
}

// resolveAlias follows aliases to the type they name (nil for a nil type or
// an alias chain longer than maxValueDepth).
func resolveAlias(t *Type) *Type {
	for i := 0; t != nil && t.Kind == giop.TkAlias; i++ {
		if i > maxValueDepth {
			return nil
		}
		t = t.Elem
	}
	return t
}

// valueDecoder unmarshals values.
type valueDecoder struct {
	d *giop.Decoder
	// zeroLeft counts down values that consumed no bytes (maxZeroProgress).
	zeroLeft int
}

func newValueDecoder(d *giop.Decoder) *valueDecoder {
	return &valueDecoder{d: d, zeroLeft: maxZeroProgress}
}

// wireErr returns the decoder's error as a *ValueError, or nil.
func (m *valueDecoder) wireErr() error {
	if err := m.d.Err(); err != nil {
		return &ValueError{Err: err}
	}
	return nil
}

func (m *valueDecoder) value(t *Type, depth int) (any, error) {
	if t == nil {
		return nil, mismatch("no type")
	}
	if depth > maxValueDepth {
		return nil, &ValueError{Err: fmt.Errorf("%w: value nested deeper than %d", giop.ErrMarshal, maxValueDepth)}
	}
	if err := m.wireErr(); err != nil {
		return nil, err
	}
	d := m.d
	start := d.Pos()
	var v any
	switch t.Kind {
	case giop.TkNull, giop.TkVoid:
		return nil, nil
	case giop.TkBoolean:
		v = d.Bool()
	case giop.TkOctet:
		v = d.Octet()
	case giop.TkChar:
		v = d.Char()
	case giop.TkWChar:
		if !d.Version().AtLeast(giop.V1_1) {
			return nil, unsupported("wchar cannot be received in GIOP 1.0")
		}
		v = d.WChar()
	case giop.TkShort:
		v = d.Short()
	case giop.TkUShort:
		v = d.UShort()
	case giop.TkLong:
		v = d.Long()
	case giop.TkULong:
		v = d.ULong()
	case giop.TkLongLong:
		v = d.LongLong()
	case giop.TkULongLong:
		v = d.ULongLong()
	case giop.TkFloat:
		v = d.Float()
	case giop.TkDouble:
		v = d.Double()
	case giop.TkLongDouble:
		d.Align(8)
		a, b := d.ULongLong(), d.ULongLong()
		if d.LittleEndian() {
			a, b = b, a
		}
		v = quadToFloat64(a, b)
	case giop.TkString:
		b := d.StringBytes()
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		if t.Bound > 0 && uint64(len(b)) > uint64(t.Bound) {
			return nil, mismatch("string of %d bytes exceeds the bound of %s", len(b), describeType(t))
		}
		v = string(b)
	case giop.TkWString:
		if !d.Version().AtLeast(giop.V1_1) {
			return nil, unsupported("wstring cannot be received in GIOP 1.0")
		}
		s := d.WString()
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		if n := utf8.RuneCountInString(s); t.Bound > 0 && uint64(n) > uint64(t.Bound) {
			return nil, mismatch("wstring of %d characters exceeds the bound of %s", n, describeType(t))
		}
		v = s
	case giop.TkFixed:
		if t.Digits > maxFixedDigits {
			return nil, mismatch("%s has more than %d digits", describeType(t), maxFixedDigits)
		}
		b := d.Raw(fixedLen(t.Digits))
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		s, err := decodeFixed(b, t.Digits, t.Scale)
		if err != nil {
			return nil, err
		}
		v = s
	case giop.TkEnum:
		i := d.ULong()
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		if uint64(i) >= uint64(len(t.Enumerators)) {
			return nil, &ValueError{Err: fmt.Errorf("%w: enumerator %d out of range for %s (%d enumerators)", giop.ErrMarshal, i, describeType(t), len(t.Enumerators))}
		}
		v = t.Enumerators[i]
	case giop.TkStruct, giop.TkExcept:
		x, err := m.members(t, depth)
		if err != nil {
			return nil, err
		}
		v = x
	case giop.TkUnion:
		x, err := m.union(t, depth)
		if err != nil {
			return nil, err
		}
		v = x
	case giop.TkSequence:
		x, err := m.sequence(t, depth)
		if err != nil {
			return nil, err
		}
		v = x
	case giop.TkArray:
		x, err := m.array(t, depth)
		if err != nil {
			return nil, err
		}
		v = x
	case giop.TkAlias:
		return m.value(t.Elem, depth+1)
	case giop.TkAny:
		at, err := readTypeCode(d)
		if err != nil {
			return nil, atPath(err, "(any type)")
		}
		x, err := m.value(at, depth+1)
		if err != nil {
			return nil, atPath(err, "(any)")
		}
		v = Any{Type: at, Value: x}
	case giop.TkObjref:
		ior := d.IOR()
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		if ior.IsNil() {
			ior = nil
		}
		v = ior
	case giop.TkAbstractInterface:
		if !d.Bool() {
			if err := m.wireErr(); err != nil {
				return nil, err
			}
			if tag := d.ULong(); tag != 0 {
				if err := m.wireErr(); err != nil {
					return nil, err
				}
				return nil, unsupported("%s holds a value type, which cannot be unmarshalled", describeType(t))
			}
			v = (*giop.IOR)(nil)
			break
		}
		ior := d.IOR()
		if ior.IsNil() {
			ior = nil
		}
		v = ior
	case giop.TkTypeCode:
		tc, err := readTypeCode(d)
		if err != nil {
			return nil, err
		}
		v = tc
	case giop.TkPrincipal:
		v = append([]byte{}, d.OctetsNoCopy()...)
	case giop.TkValue, giop.TkValueBox:
		tag := d.ULong()
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		if tag != 0 {
			return nil, unsupported("value type %s: only null values can be unmarshalled (value tag 0x%08x)", describeType(t), tag)
		}
		return nil, nil
	default:
		return nil, unsupported("cannot unmarshal a value of %s", describeType(t))
	}
	if err := m.wireErr(); err != nil {
		return nil, err
	}
	if d.Pos() == start {
		if m.zeroLeft--; m.zeroLeft < 0 {
			return nil, &ValueError{Err: fmt.Errorf("%w: more than %d values without data", giop.ErrMarshal, maxZeroProgress)}
		}
	}
	return v, nil
}

func (m *valueDecoder) members(t *Type, depth int) (map[string]any, error) {
	x := make(map[string]any, len(t.Members))
	for _, mem := range t.Members {
		mv, err := m.value(mem.Type, depth+1)
		if err != nil {
			return nil, atPath(err, "."+mem.Name)
		}
		x[mem.Name] = mv
	}
	return x, nil
}

func (m *valueDecoder) union(t *Type, depth int) (Union, error) {
	dt := resolveAlias(t.Disc)
	if dt == nil {
		return Union{}, mismatch("union %s has no discriminator type", describeType(t))
	}
	dv, err := m.value(dt, depth+1)
	if err != nil {
		return Union{}, atPath(err, ".(discriminator)")
	}
	label, err := discLabel(dt, dv)
	if err != nil {
		return Union{}, atPath(err, ".(discriminator)")
	}
	u := Union{Disc: dv}
	if c := selectCase(t, label); c != nil {
		u.Value, err = m.value(c.Type, depth+1)
		if err != nil {
			return Union{}, atPath(err, "."+c.Name)
		}
	}
	return u, nil
}

// count reads a sequence length or checks an array length against the
// bytes left, for elements of type el.
func (m *valueDecoder) count(t, el *Type, n uint32) error {
	min := minWireSize(el)
	if min < 1 {
		min = 1
	}
	if uint64(n)*uint64(min) > uint64(m.d.Remaining()) {
		return &ValueError{Err: fmt.Errorf("%w: %s of %d elements of at least %d bytes exceeds the %d bytes left",
			giop.ErrMarshal, describeType(t), n, min, m.d.Remaining())}
	}
	return nil
}

func (m *valueDecoder) sequence(t *Type, depth int) (any, error) {
	el := resolveAlias(t.Elem)
	if el == nil {
		return nil, mismatch("%s has no element type", describeType(t))
	}
	d := m.d
	n := d.ULong()
	if err := m.wireErr(); err != nil {
		return nil, err
	}
	if t.Bound > 0 && n > t.Bound {
		return nil, &ValueError{Err: fmt.Errorf("%w: sequence of %d exceeds the bound of %s", giop.ErrMarshal, n, describeType(t))}
	}
	if err := m.count(t, el, n); err != nil {
		return nil, err
	}
	if el.Kind == giop.TkOctet {
		b := d.Raw(int(n))
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	}
	return m.elements(t, int(n), depth)
}

func (m *valueDecoder) array(t *Type, depth int) (any, error) {
	el := resolveAlias(t.Elem)
	if el == nil {
		return nil, mismatch("%s has no element type", describeType(t))
	}
	if err := m.count(t, el, t.Length); err != nil {
		return nil, err
	}
	if el.Kind == giop.TkOctet {
		b := m.d.Raw(int(t.Length))
		if err := m.wireErr(); err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	}
	return m.elements(t, int(t.Length), depth)
}

func (m *valueDecoder) elements(t *Type, n, depth int) ([]any, error) {
	xs := make([]any, n)
	for i := range xs {
		x, err := m.value(t.Elem, depth+1)
		if err != nil {
			return nil, atPath(err, fmt.Sprintf("[%d]", i))
		}
		xs[i] = x
	}
	return xs, nil
}

// minWireSize is a lower bound of the bytes a value of type t takes (not
// counting alignment), used to refuse element counts that cannot fit
// before allocating. It looks at most a fixed number of types deep and
// wide, so that it is cheap even for shared or recursive hostile types.
func minWireSize(t *Type) int {
	budget := 256
	return minWire(t, 0, &budget)
}

func minWire(t *Type, depth int, budget *int) int {
	if t == nil || depth > 8 || *budget <= 0 {
		return 0
	}
	*budget--
	switch t.Kind {
	case giop.TkBoolean, giop.TkOctet, giop.TkChar, giop.TkWChar:
		return 1
	case giop.TkShort, giop.TkUShort:
		return 2
	case giop.TkLong, giop.TkULong, giop.TkFloat, giop.TkEnum, giop.TkSequence,
		giop.TkWString, giop.TkTypeCode, giop.TkAny, giop.TkPrincipal, giop.TkValue, giop.TkValueBox:
		return 4
	case giop.TkString:
		return 5
	case giop.TkObjref:
		return 9 // an empty type id string and a profile count
	case giop.TkAbstractInterface:
		return 5
	case giop.TkLongLong, giop.TkULongLong, giop.TkDouble:
		return 8
	case giop.TkLongDouble:
		return 16
	case giop.TkFixed:
		return fixedLen(t.Digits)
	case giop.TkAlias:
		return minWire(t.Elem, depth+1, budget)
	case giop.TkStruct, giop.TkExcept:
		n := 0
		for _, mem := range t.Members {
			n += minWire(mem.Type, depth+1, budget)
			if n > 1<<20 {
				return 1 << 20
			}
		}
		return n
	case giop.TkUnion:
		return minWire(t.Disc, depth+1, budget)
	case giop.TkArray:
		n := uint64(t.Length) * uint64(minWire(t.Elem, depth+1, budget))
		return int(min(n, 1<<20))
	}
	return 0
}

// Operation-level helpers. An operation's request body holds its in and
// inout arguments in order; a normal reply body holds the return value (if
// not void) and then the out and inout arguments in order (§15.4.2.2,
// §15.4.3.2).

// MarshalArgs writes the in and inout arguments of op: args has one value
// per in or inout parameter, in declaration order.
func (op *Operation) MarshalArgs(e *giop.Encoder, args []any) error {
	i := 0
	for _, p := range op.Params {
		if p.Dir == Out {
			continue
		}
		if i >= len(args) {
			return op.countErr("in and inout arguments", len(args))
		}
		enc := valueEncoder{e: e}
		if err := enc.value(p.Type, args[i], 0); err != nil {
			return atPath(err, fmt.Sprintf("arg %q", p.Name))
		}
		i++
	}
	if i != len(args) {
		return op.countErr("in and inout arguments", len(args))
	}
	return nil
}

func (op *Operation) countErr(what string, got int) error {
	want := 0
	for _, p := range op.Params {
		if what == "in and inout arguments" && p.Dir != Out || what == "out and inout arguments" && p.Dir != In {
			want++
		}
	}
	return mismatch("operation %s has %d %s, got %d values", op.Name, want, what, got)
}

// UnmarshalArgs reads the in and inout arguments of op, one value per in
// or inout parameter in declaration order.
func (op *Operation) UnmarshalArgs(d *giop.Decoder) ([]any, error) {
	dec := newValueDecoder(d)
	var args []any
	for _, p := range op.Params {
		if p.Dir == Out {
			continue
		}
		v, err := dec.value(p.Type, 0)
		if err != nil {
			err = atPath(err, fmt.Sprintf("arg %q", p.Name))
			d.SetErr(err)
			return nil, err
		}
		args = append(args, v)
	}
	return args, nil
}

// MarshalResults writes a normal reply body of op: the return value (which
// must be nil for void) and then outs, one value per out or inout
// parameter in declaration order.
func (op *Operation) MarshalResults(e *giop.Encoder, result any, outs []any) error {
	enc := valueEncoder{e: e}
	if op.Result != nil && op.Result.Kind != giop.TkVoid {
		if err := enc.value(op.Result, result, 0); err != nil {
			return atPath(err, "result")
		}
	} else if result != nil {
		return atPath(mismatch("operation %s returns void, got %s", op.Name, goTypeName(result)), "result")
	}
	i := 0
	for _, p := range op.Params {
		if p.Dir == In {
			continue
		}
		if i >= len(outs) {
			return op.countErr("out and inout arguments", len(outs))
		}
		if err := enc.value(p.Type, outs[i], 0); err != nil {
			return atPath(err, fmt.Sprintf("%s %q", p.Dir, p.Name))
		}
		i++
	}
	if i != len(outs) {
		return op.countErr("out and inout arguments", len(outs))
	}
	return nil
}

// UnmarshalResults reads a normal reply body of op: the return value (nil
// for void) and the out and inout arguments in declaration order.
func (op *Operation) UnmarshalResults(d *giop.Decoder) (any, []any, error) {
	dec := newValueDecoder(d)
	var result any
	if op.Result != nil && op.Result.Kind != giop.TkVoid {
		v, err := dec.value(op.Result, 0)
		if err != nil {
			err = atPath(err, "result")
			d.SetErr(err)
			return nil, nil, err
		}
		result = v
	}
	var outs []any
	for _, p := range op.Params {
		if p.Dir == In {
			continue
		}
		v, err := dec.value(p.Type, 0)
		if err != nil {
			err = atPath(err, fmt.Sprintf("%s %q", p.Dir, p.Name))
			d.SetErr(err)
			return nil, nil, err
		}
		outs = append(outs, v)
	}
	return result, outs, nil
}

// MarshalZeroResults writes the reply body of op with the zero value (see
// Zero) as the return value and as every out and inout argument: what the
// agent answers when it returns a suppressed-mode request prematurely.
func (op *Operation) MarshalZeroResults(e *giop.Encoder) error {
	var result any
	if op.Result != nil && op.Result.Kind != giop.TkVoid {
		result = Zero(op.Result)
	}
	var outs []any
	for _, p := range op.Params {
		if p.Dir != In {
			outs = append(outs, Zero(p.Type))
		}
	}
	return op.MarshalResults(e, result, outs)
}

// MarshalException writes the body of a USER_EXCEPTION reply for exception
// type t: its repository id, then its members (§15.4.3.2).
func MarshalException(e *giop.Encoder, t *Type, v map[string]any) error {
	ex := resolveAlias(t)
	if ex == nil || ex.Kind != giop.TkExcept {
		return mismatch("%s is not an exception", describeType(t))
	}
	e.WriteString(ex.RepoID)
	return MarshalExceptionMembers(e, ex, v)
}

// MarshalExceptionMembers writes only the members of exception t, for a
// giop.UserException's Members function (the giop server writes the
// repository id itself).
func MarshalExceptionMembers(e *giop.Encoder, t *Type, v map[string]any) error {
	ex := resolveAlias(t)
	if ex == nil || ex.Kind != giop.TkExcept {
		return mismatch("%s is not an exception", describeType(t))
	}
	enc := valueEncoder{e: e}
	return atPath(enc.members(ex, v, 0), "exception "+exceptionName(ex))
}

// UnmarshalException reads the body of a USER_EXCEPTION reply that must
// hold exception t: the repository id (which must be t's) and the members.
func UnmarshalException(d *giop.Decoder, t *Type) (map[string]any, error) {
	ex := resolveAlias(t)
	if ex == nil || ex.Kind != giop.TkExcept {
		return nil, mismatch("%s is not an exception", describeType(t))
	}
	id := d.BoundedString(1024, "exception repository id")
	if err := d.Err(); err != nil {
		return nil, &ValueError{Path: "exception " + exceptionName(ex), Err: err}
	}
	if id != ex.RepoID {
		err := &ValueError{Path: "exception " + exceptionName(ex), Err: fmt.Errorf("%w: the reply holds exception %q", ErrMismatch, id)}
		d.SetErr(err)
		return nil, err
	}
	return UnmarshalExceptionMembers(d, ex)
}

// UnmarshalExceptionMembers reads the members of exception t, as found in
// a giop.UserException's Body (positioned after the repository id).
func UnmarshalExceptionMembers(d *giop.Decoder, t *Type) (map[string]any, error) {
	ex := resolveAlias(t)
	if ex == nil || ex.Kind != giop.TkExcept {
		return nil, mismatch("%s is not an exception", describeType(t))
	}
	dec := newValueDecoder(d)
	x, err := dec.members(ex, 0)
	if err != nil {
		err = atPath(err, "exception "+exceptionName(ex))
		d.SetErr(err)
		return nil, err
	}
	return x, nil
}

func exceptionName(t *Type) string {
	if t.Name != "" {
		return t.Name
	}
	return t.RepoID
}

// Fixed-point decimals (CORBA 3.0 §15.3.2.8): one decimal digit per
// half-octet, most significant first, the sign in the last half-octet (0xC
// positive, 0xD negative), with a leading zero half-octet when the number
// of digits is even. The value has exactly Digits digits of which Scale
// are after the decimal point.

// fixedLen is the number of octets of a fixed<digits,scale> value.
func fixedLen(digits uint16) int { return int(digits)/2 + 1 }

// encodeFixed encodes the decimal string s as fixed<digits,scale>. Digits
// after the point beyond the scale must be zeros (nothing is rounded).
func encodeFixed(s string, digits uint16, scale int16) ([]byte, error) {
	if digits > maxFixedDigits {
		return nil, mismatch("fixed<%d,%d> has more than %d digits", digits, scale, maxFixedDigits)
	}
	if int(scale) > int(digits) || scale < 0 {
		return nil, mismatch("fixed<%d,%d> has an invalid scale", digits, scale)
	}
	neg, intPart, frac, ok := parseDecimal(s)
	if !ok {
		return nil, mismatch("%q is not a decimal number", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > int(scale) {
		return nil, mismatch("%s has more than %d digits after the point of fixed<%d,%d>", s, scale, digits, scale)
	}
	frac += strings.Repeat("0", int(scale)-len(frac))
	intPart = strings.TrimLeft(intPart, "0")
	all := intPart + frac
	if len(all) > int(digits) {
		return nil, mismatch("%s has more than %d digits before the point of fixed<%d,%d>", s, int(digits)-int(scale), digits, scale)
	}
	all = strings.Repeat("0", int(digits)-len(all)) + all
	if strings.Trim(all, "0") == "" {
		neg = false
	}
	nibbles := make([]byte, 0, digits+2)
	if digits%2 == 0 {
		nibbles = append(nibbles, 0)
	}
	for i := 0; i < len(all); i++ {
		nibbles = append(nibbles, all[i]-'0')
	}
	if neg {
		nibbles = append(nibbles, 0xD)
	} else {
		nibbles = append(nibbles, 0xC)
	}
	out := make([]byte, len(nibbles)/2)
	for i := range out {
		out[i] = nibbles[2*i]<<4 | nibbles[2*i+1]
	}
	return out, nil
}

// parseDecimal splits [+-]digits[.digits][dD] into its parts.
func parseDecimal(s string) (neg bool, intPart, frac string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return false, "", "", false
	}
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	if n := len(s); n > 0 && (s[n-1] == 'd' || s[n-1] == 'D') {
		s = s[:n-1]
	}
	intPart, frac, _ = strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return false, "", "", false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false, "", "", false
			}
		}
	}
	return neg, intPart, frac, true
}

// decodeFixed formats the octets of a fixed<digits,scale> value as a
// decimal string with exactly scale digits after the point.
func decodeFixed(b []byte, digits uint16, scale int16) (string, error) {
	bad := func(format string, args ...any) error {
		return &ValueError{Err: fmt.Errorf("%w: fixed: "+format, append([]any{giop.ErrMarshal}, args...)...)}
	}
	if int(scale) > int(digits) || scale < 0 {
		return "", mismatch("fixed<%d,%d> has an invalid scale", digits, scale)
	}
	nibbles := make([]byte, 0, 2*len(b))
	for _, x := range b {
		nibbles = append(nibbles, x>>4, x&0xF)
	}
	sign := nibbles[len(nibbles)-1]
	nibbles = nibbles[:len(nibbles)-1]
	if digits%2 == 0 {
		if nibbles[0] != 0 {
			return "", bad("leading half-octet 0x%x is not zero", nibbles[0])
		}
		nibbles = nibbles[1:]
	}
	var neg bool
	switch sign {
	case 0xC:
	case 0xD:
		neg = true
	default:
		return "", bad("sign half-octet 0x%x", sign)
	}
	ds := make([]byte, len(nibbles))
	for i, n := range nibbles {
		if n > 9 {
			return "", bad("half-octet 0x%x is not a decimal digit", n)
		}
		ds[i] = '0' + n
	}
	return formatFixed(neg, string(ds), int(scale)), nil
}

// formatFixed formats digits (with scale of them after the point) without
// leading zeros before the point.
func formatFixed(neg bool, ds string, scale int) string {
	intPart, frac := ds[:len(ds)-scale], ds[len(ds)-scale:]
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	var sb strings.Builder
	if neg && strings.Trim(ds, "0") != "" {
		sb.WriteByte('-')
	}
	sb.WriteString(intPart)
	if scale > 0 {
		sb.WriteByte('.')
		sb.WriteString(frac)
	}
	return sb.String()
}

// long double is IEEE 754 binary128 on the wire (§15.3.1.4). Go has no such
// type: values are float64, converted exactly on the way out and rounded
// to nearest on the way in. hi holds the sign, exponent and top 48 bits of
// the significand; lo the low 64 bits.

func float64ToQuad(f float64) (hi, lo uint64) {
	b := math.Float64bits(f)
	sign := b >> 63
	exp := int64(b>>52) & 0x7FF
	mant := b & (1<<52 - 1)
	switch {
	case exp == 0x7FF: // Inf or NaN
		hi = sign<<63 | 0x7FFF<<48 | mant>>4
		lo = mant << 60
		if mant != 0 && hi&(1<<48-1) == 0 && lo == 0 {
			hi |= 1 << 47
		}
		return hi, lo
	case exp == 0 && mant == 0:
		return sign << 63, 0
	case exp == 0: // subnormal: normalize
		shift := 0
		for mant&(1<<52) == 0 {
			mant <<= 1
			shift++
		}
		mant &= 1<<52 - 1
		exp = 1 - int64(shift)
	}
	qexp := uint64(exp - 1023 + 16383)
	// 52 significand bits go to the top of the 112-bit field.
	hi = sign<<63 | qexp<<48 | mant>>4
	lo = mant << 60
	return hi, lo
}

func quadToFloat64(hi, lo uint64) float64 {
	sign := hi >> 63
	exp := int64(hi>>48) & 0x7FFF
	mhi := hi & (1<<48 - 1)
	if exp == 0x7FFF {
		if mhi == 0 && lo == 0 {
			if sign == 1 {
				return math.Inf(-1)
			}
			return math.Inf(1)
		}
		return math.NaN()
	}
	if exp == 0 && mhi == 0 && lo == 0 {
		if sign == 1 {
			return math.Copysign(0, -1)
		}
		return 0
	}
	// Significand with the implicit bit, as a 113-bit number split into
	// the top 53 bits plus a rounding remainder.
	e := exp - 16383
	if exp == 0 {
		e = 1 - 16383
	} else {
		mhi |= 1 << 48
	}
	// Value = (mhi<<64 | lo) * 2^(e-112). Take the top 64 bits, with a
	// sticky bit for the rest, and let the conversion to float64 round.
	top := mhi<<15 | lo>>49
	rest := lo & (1<<49 - 1)
	if rest != 0 {
		top |= 1
	}
	f := math.Ldexp(float64(top), int(e-63))
	if sign == 1 {
		f = -f
	}
	return f
}

// anyArg takes the Any a value of IDL type any is given as, by value or by
// pointer, and the type it carries: an Any without a type is a null any.
func anyArg(t *Type, v any) (Any, *Type, error) {
	var a Any
	switch x := v.(type) {
	case Any:
		a = x
	case *Any:
		if x == nil {
			return Any{}, nil, wrongGo(t, "Any", v)
		}
		a = *x
	default:
		return Any{}, nil, wrongGo(t, "Any", v)
	}
	return a, orNull(a.Type), nil
}

// typeCodeArg takes the *Type a value of IDL type TypeCode is given as; a
// nil one is the null TypeCode.
func typeCodeArg(t *Type, v any) (*Type, error) {
	x, ok := v.(*Type)
	if !ok {
		return nil, wrongGo(t, "*Type", v)
	}
	return orNull(x), nil
}

// orNull is t, or the null type for a missing one.
func orNull(t *Type) *Type {
	if t == nil {
		return &Type{Kind: giop.TkNull}
	}
	return t
}
