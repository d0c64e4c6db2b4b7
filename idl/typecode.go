package idl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/requestagent/requestagent/giop"
)

// TypeCodes (CORBA 3.0 §15.3.5). A TypeCode is a ulong kind followed by the
// kind's parameters: none for the primitive kinds, a bound for string and
// wstring, digits and scale for fixed, and a CDR encapsulation for every
// complex kind. Recursive types are written with an indirection, the kind
// 0xFFFFFFFF followed by a long offset from the offset itself back to the
// kind of the enclosing TypeCode being written.
//
// Types read from a TypeCode carry the TypeCode's names, which are simple
// names ("Blob", not "Demo::Blob"); RepoID identifies them.

const (
	// tcIndirection is the kind value of an indirection.
	tcIndirection = 0xFFFFFFFF
	// maxTypeCodeNodes caps the TypeCodes written or read as one top-level
	// TypeCode, against expansion of shared (DAG) hostile types.
	maxTypeCodeNodes = 1 << 14
	// maxTCString caps repository ids and names read from TypeCodes.
	maxTCString = 4096
	// objectRepoID is the repository id of CORBA::Object.
	objectRepoID = "IDL:omg.org/CORBA/Object:1.0"
)

// WriteTypeCode writes t as a TypeCode with e. Recursive types (pointer
// cycles in t) are written with indirections.
func WriteTypeCode(e *giop.Encoder, t *Type) error {
	return topPath(writeTypeCode(e, t))
}

func writeTypeCode(e *giop.Encoder, t *Type) error {
	w := tcWriter{e: e, open: make(map[*Type]int)}
	return w.write(t, 0)
}

// ReadTypeCode reads a TypeCode. Indirections are resolved to the TypeCode
// they point to, which must be one read earlier within the same top-level
// TypeCode; recursive types come back as pointer cycles. Nesting, the
// number of TypeCodes and every count and string are bounded. Errors wrap
// giop.ErrMarshal and are also recorded on d.
func ReadTypeCode(d *giop.Decoder) (*Type, error) {
	t, err := readTypeCode(d)
	if err != nil {
		err = topPath(err)
		d.SetErr(err)
		return nil, err
	}
	return t, nil
}

func readTypeCode(d *giop.Decoder) (*Type, error) {
	r := tcReader{seen: make(map[int]*Type)}
	t := r.read(d, 0, 0)
	if err := d.Err(); err != nil {
		return nil, &ValueError{Err: err}
	}
	return t, nil
}

type tcWriter struct {
	e *giop.Encoder
	// open maps the complex types being written to the position of their
	// kind, for indirections.
	open  map[*Type]int
	nodes int
}

// simpleName returns the last component of a scoped name.
func simpleName(t *Type) string {
	n := t.Name
	if i := strings.LastIndex(n, "::"); i >= 0 {
		n = n[i+2:]
	}
	return n
}

func (w *tcWriter) write(t *Type, depth int) error {
	if t == nil {
		return mismatch("TypeCode of a nil type")
	}
	if depth > maxValueDepth {
		return mismatch("TypeCode nested deeper than %d", maxValueDepth)
	}
	if w.nodes++; w.nodes > maxTypeCodeNodes {
		return mismatch("TypeCode of more than %d types", maxTypeCodeNodes)
	}
	e := w.e
	if pos, ok := w.open[t]; ok {
		e.WriteULong(tcIndirection)
		e.WriteLong(int32(pos - e.Len()))
		return nil
	}
	e.Align(4)
	pos := e.Len()
	e.WriteULong(uint32(t.Kind))
	if emptyParams(t.Kind) {
		return nil
	}
	switch t.Kind {
	case giop.TkString, giop.TkWString:
		e.WriteULong(t.Bound)
		return nil
	case giop.TkFixed:
		e.WriteUShort(t.Digits)
		e.WriteShort(t.Scale)
		return nil
	}
	if int(t.Kind) > int(giop.TkLocalInterface) {
		return mismatch("TypeCode of unknown kind %d", uint32(t.Kind))
	}
	w.open[t] = pos
	defer delete(w.open, t)
	m := e.BeginEncapsulation()
	defer e.EndEncapsulation(m)
	switch t.Kind {
	case giop.TkObjref, giop.TkNative, giop.TkAbstractInterface, giop.TkLocalInterface:
		id, name := t.RepoID, simpleName(t)
		if t.Kind == giop.TkObjref && id == "" && t.Interface != nil {
			id = t.Interface.RepoID
		}
		if t.Kind == giop.TkObjref && id == "" {
			id, name = objectRepoID, "Object"
		}
		e.WriteString(id)
		e.WriteString(name)
	case giop.TkStruct, giop.TkExcept:
		e.WriteString(t.RepoID)
		e.WriteString(simpleName(t))
		e.WriteULong(uint32(len(t.Members)))
		for _, mem := range t.Members {
			e.WriteString(mem.Name)
			if err := w.write(mem.Type, depth+1); err != nil {
				return atPath(err, "."+mem.Name)
			}
		}
	case giop.TkUnion:
		return w.union(t, depth)
	case giop.TkEnum:
		e.WriteString(t.RepoID)
		e.WriteString(simpleName(t))
		e.WriteULong(uint32(len(t.Enumerators)))
		for _, n := range t.Enumerators {
			e.WriteString(n)
		}
	case giop.TkSequence, giop.TkArray:
		if err := w.write(t.Elem, depth+1); err != nil {
			return err
		}
		if t.Kind == giop.TkSequence {
			e.WriteULong(t.Bound)
		} else {
			e.WriteULong(t.Length)
		}
	case giop.TkAlias, giop.TkValueBox:
		e.WriteString(t.RepoID)
		e.WriteString(simpleName(t))
		return w.write(t.Elem, depth+1)
	case giop.TkValue:
		e.WriteString(t.RepoID)
		e.WriteString(simpleName(t))
		e.WriteShort(0) // VM_NONE
		if err := w.write(orNull(t.Base), depth+1); err != nil {
			return err
		}
		e.WriteULong(uint32(len(t.Members)))
		for _, mem := range t.Members {
			e.WriteString(mem.Name)
			if err := w.write(mem.Type, depth+1); err != nil {
				return atPath(err, "."+mem.Name)
			}
			if mem.Public {
				e.WriteShort(1) // PUBLIC_MEMBER
			} else {
				e.WriteShort(0) // PRIVATE_MEMBER
			}
		}
	}
	return nil
}

// union writes a union's parameters: id, name, discriminator type, the
// index of the default member (-1 if none), and one member per label. The
// default member's label is a zero octet, as omniORB and JacORB write it.
func (w *tcWriter) union(t *Type, depth int) error {
	e := w.e
	dt := resolveAlias(t.Disc)
	if dt == nil || !isDiscKind(dt.Kind) {
		return mismatch("union %s has discriminator type %s", describeType(t), describeType(t.Disc))
	}
	e.WriteString(t.RepoID)
	e.WriteString(simpleName(t))
	if err := w.write(t.Disc, depth+1); err != nil {
		return err
	}
	count, def := 0, -1
	for _, c := range t.Cases {
		count += len(c.Labels)
		if c.IsDefault {
			def = count
			count++
		}
	}
	e.WriteLong(int32(def))
	e.WriteULong(uint32(count))
	for _, c := range t.Cases {
		entries := len(c.Labels)
		if c.IsDefault {
			entries++
		}
		for i := 0; i < entries; i++ {
			if i < len(c.Labels) {
				writeLabel(e, dt, c.Labels[i])
			} else {
				e.WriteOctet(0)
			}
			e.WriteString(c.Name)
			if err := w.write(c.Type, depth+1); err != nil {
				return atPath(err, "."+c.Name)
			}
		}
	}
	return nil
}

func isDiscKind(k Kind) bool {
	switch k {
	case giop.TkShort, giop.TkUShort, giop.TkLong, giop.TkULong, giop.TkLongLong,
		giop.TkULongLong, giop.TkChar, giop.TkWChar, giop.TkBoolean, giop.TkEnum, giop.TkOctet:
		return true
	}
	return false
}

func writeLabel(e *giop.Encoder, dt *Type, l int64) {
	switch dt.Kind {
	case giop.TkBoolean, giop.TkChar, giop.TkOctet:
		e.WriteOctet(byte(l))
	case giop.TkWChar:
		e.WriteWChar(rune(l))
	case giop.TkShort, giop.TkUShort:
		e.WriteUShort(uint16(l))
	case giop.TkLong, giop.TkULong, giop.TkEnum:
		e.WriteULong(uint32(l))
	case giop.TkLongLong, giop.TkULongLong:
		e.WriteULongLong(uint64(l))
	}
}

func readLabel(d *giop.Decoder, dt *Type) int64 {
	switch dt.Kind {
	case giop.TkBoolean:
		if d.Bool() {
			return 1
		}
		return 0
	case giop.TkChar, giop.TkOctet:
		return int64(d.Octet())
	case giop.TkWChar:
		return int64(d.WChar())
	case giop.TkShort:
		return int64(d.Short())
	case giop.TkUShort:
		return int64(d.UShort())
	case giop.TkLong:
		return int64(d.Long())
	case giop.TkULong, giop.TkEnum:
		return int64(d.ULong())
	case giop.TkLongLong:
		return d.LongLong()
	case giop.TkULongLong:
		return int64(d.ULongLong())
	}
	return 0
}

type tcReader struct {
	// seen maps the position of every TypeCode's kind (relative to the
	// top-level decoder's buffer) to its Type, for indirections.
	seen  map[int]*Type
	nodes int
}

func tcFail(d *giop.Decoder, format string, args ...any) {
	d.SetErr(fmt.Errorf("%w: TypeCode: "+format, append([]any{giop.ErrMarshal}, args...)...))
}

// read reads a TypeCode from d, whose buffer starts at position base of
// the top-level buffer. Errors are recorded on d; the result is then nil.
func (r *tcReader) read(d *giop.Decoder, base, depth int) *Type {
	if d.Err() != nil {
		return nil
	}
	if depth > maxValueDepth {
		tcFail(d, "nested deeper than %d", maxValueDepth)
		return nil
	}
	if r.nodes++; r.nodes > maxTypeCodeNodes {
		tcFail(d, "more than %d nested TypeCodes", maxTypeCodeNodes)
		return nil
	}
	d.Align(4)
	pos := base + d.Pos()
	k := d.ULong()
	if d.Err() != nil {
		return nil
	}
	if k == tcIndirection {
		at := base + d.Pos()
		off := d.Long()
		if d.Err() != nil {
			return nil
		}
		if off > -4 {
			tcFail(d, "indirection offset %d is not negative", off)
			return nil
		}
		t, ok := r.seen[at+int(off)]
		if !ok {
			tcFail(d, "indirection offset %d does not point to an enclosing TypeCode", off)
			return nil
		}
		return t
	}
	if k > uint32(giop.TkLocalInterface) {
		tcFail(d, "unknown kind %d", k)
		return nil
	}
	t := &Type{Kind: Kind(k)}
	if emptyParams(t.Kind) {
		return t
	}
	switch t.Kind {
	case giop.TkString, giop.TkWString:
		t.Bound = d.ULong()
		return t
	case giop.TkFixed:
		t.Digits = d.UShort()
		t.Scale = d.Short()
		if d.Err() == nil && (t.Digits > maxFixedDigits || t.Scale < 0 || int(t.Scale) > int(t.Digits)) {
			tcFail(d, "fixed<%d,%d> is not a valid fixed type", t.Digits, t.Scale)
		}
		return t
	}
	r.seen[pos] = t
	b := d.OctetsNoCopy()
	inBase := base + d.Pos() - len(b)
	in := d.OpenEncapsulation(b)
	r.params(t, in, inBase, depth)
	d.SetErr(in.Err())
	if d.Err() != nil {
		return nil
	}
	return t
}

// params reads the encapsulated parameters of complex TypeCode t.
func (r *tcReader) params(t *Type, in *giop.Decoder, base, depth int) {
	named := func() {
		t.RepoID = in.BoundedString(maxTCString, "repository id")
		t.Name = in.BoundedString(maxTCString, "name")
	}
	switch t.Kind {
	case giop.TkObjref, giop.TkNative, giop.TkAbstractInterface, giop.TkLocalInterface:
		named()
	case giop.TkStruct, giop.TkExcept:
		named()
		n := in.SeqLen(9) // a name (at least 5 bytes) and a TypeCode (4)
		if in.Err() != nil {
			return
		}
		t.Members = make([]Member, n)
		for i := range t.Members {
			t.Members[i].Name = in.BoundedString(maxTCString, "member name")
			t.Members[i].Type = r.read(in, base, depth+1)
			if in.Err() != nil {
				return
			}
		}
	case giop.TkUnion:
		r.union(t, in, base, depth)
	case giop.TkEnum:
		named()
		n := in.SeqLen(5)
		if in.Err() != nil {
			return
		}
		t.Enumerators = make([]string, n)
		for i := range t.Enumerators {
			t.Enumerators[i] = in.BoundedString(maxTCString, "enumerator")
		}
	case giop.TkSequence, giop.TkArray:
		t.Elem = r.read(in, base, depth+1)
		if t.Kind == giop.TkSequence {
			t.Bound = in.ULong()
		} else {
			t.Length = in.ULong()
		}
	case giop.TkAlias, giop.TkValueBox:
		named()
		t.Elem = r.read(in, base, depth+1)
	case giop.TkValue:
		named()
		in.Short() // value modifier
		bt := r.read(in, base, depth+1)
		if bt != nil && bt.Kind != giop.TkNull {
			t.Base = bt
		}
		n := in.SeqLen(11) // a name (5), a TypeCode (4) and a visibility (2)
		if in.Err() != nil {
			return
		}
		t.Members = make([]Member, n)
		for i := range t.Members {
			t.Members[i].Name = in.BoundedString(maxTCString, "member name")
			t.Members[i].Type = r.read(in, base, depth+1)
			t.Members[i].Public = in.Short() == 1
			if in.Err() != nil {
				return
			}
		}
	}
}

func (r *tcReader) union(t *Type, in *giop.Decoder, base, depth int) {
	t.RepoID = in.BoundedString(maxTCString, "repository id")
	t.Name = in.BoundedString(maxTCString, "name")
	t.Disc = r.read(in, base, depth+1)
	if in.Err() != nil {
		return
	}
	dt := resolveAlias(t.Disc)
	if dt == nil || !isDiscKind(dt.Kind) {
		tcFail(in, "union %s has discriminator type %s", t.RepoID, describeType(t.Disc))
		return
	}
	def := in.Long()
	n := in.SeqLen(10) // a label (1), a name (5) and a TypeCode (4)
	if in.Err() != nil {
		return
	}
	if def < -1 || int64(def) >= int64(n) {
		tcFail(in, "union %s default index %d of %d members", t.RepoID, def, n)
		return
	}
	for i := 0; i < n; i++ {
		var label int64
		if i == int(def) {
			in.Octet()
		} else {
			label = readLabel(in, dt)
		}
		name := in.BoundedString(maxTCString, "member name")
		mt := r.read(in, base, depth+1)
		if in.Err() != nil {
			return
		}
		// Consecutive members of the same name are one case with several
		// labels.
		if k := len(t.Cases) - 1; k >= 0 && t.Cases[k].Name == name {
			c := &t.Cases[k]
			if i == int(def) {
				c.IsDefault = true
			} else {
				c.Labels = append(c.Labels, label)
			}
			continue
		}
		c := UnionCase{Name: name, Type: mt, IsDefault: i == int(def)}
		if i != int(def) {
			c.Labels = []int64{label}
		}
		t.Cases = append(t.Cases, c)
	}
}

// describeType names a type for messages: named types by scoped name (or
// repository id), anonymous ones in IDL syntax such as sequence<long,4>.
func describeType(t *Type) string {
	var sb strings.Builder
	writeTypeDesc(&sb, t, false, 0)
	return sb.String()
}

// typeSpec describes t in the syntax that parseTypeSpec reads back:
// anonymous types in IDL syntax and named types by repository id. ok is
// false when t contains a named type (the description then does not
// define t).
func typeSpec(t *Type) (spec string, ok bool) {
	var sb strings.Builder
	ok = writeTypeDesc(&sb, t, true, 0)
	return sb.String(), ok
}

var primitiveNames = map[Kind]string{
	giop.TkNull: "null", giop.TkVoid: "void", giop.TkShort: "short", giop.TkLong: "long",
	giop.TkUShort: "unsigned short", giop.TkULong: "unsigned long", giop.TkFloat: "float",
	giop.TkDouble: "double", giop.TkBoolean: "boolean", giop.TkChar: "char",
	giop.TkOctet: "octet", giop.TkAny: "any", giop.TkTypeCode: "TypeCode",
	giop.TkPrincipal: "Principal", giop.TkLongLong: "long long",
	giop.TkULongLong: "unsigned long long", giop.TkLongDouble: "long double",
	giop.TkWChar: "wchar",
}

// writeTypeDesc writes the description of t and reports whether it is
// free of named types.
func writeTypeDesc(sb *strings.Builder, t *Type, byID bool, depth int) bool {
	if t == nil {
		sb.WriteString("<nil type>")
		return false
	}
	if depth > 16 {
		sb.WriteString("...")
		return false
	}
	if n, ok := primitiveNames[t.Kind]; ok {
		sb.WriteString(n)
		return true
	}
	switch t.Kind {
	case giop.TkString, giop.TkWString:
		sb.WriteString(t.Kind.String())
		if t.Bound > 0 {
			sb.WriteString("<" + strconv.FormatUint(uint64(t.Bound), 10) + ">")
		}
		return true
	case giop.TkFixed:
		fmt.Fprintf(sb, "fixed<%d,%d>", t.Digits, t.Scale)
		return true
	case giop.TkSequence:
		sb.WriteString("sequence<")
		ok := writeTypeDesc(sb, t.Elem, byID, depth+1)
		if t.Bound > 0 {
			sb.WriteString("," + strconv.FormatUint(uint64(t.Bound), 10))
		}
		sb.WriteString(">")
		return ok
	case giop.TkArray:
		// long[2][3] is an array of 2 arrays of 3 longs.
		var dims []uint32
		el := t
		for el != nil && el.Kind == giop.TkArray && el.Name == "" && len(dims) < 16 {
			dims = append(dims, el.Length)
			el = el.Elem
		}
		ok := writeTypeDesc(sb, el, byID, depth+1)
		for _, n := range dims {
			sb.WriteString("[" + strconv.FormatUint(uint64(n), 10) + "]")
		}
		return ok
	case giop.TkObjref:
		if t.RepoID == "" && t.Interface == nil || t.RepoID == objectRepoID {
			sb.WriteString("Object")
			return true
		}
	}
	switch {
	case byID && t.RepoID != "":
		sb.WriteString(t.RepoID)
	case t.Name != "":
		sb.WriteString(t.Name)
	case t.RepoID != "":
		sb.WriteString(t.RepoID)
	default:
		sb.WriteString(t.Kind.String())
	}
	return false
}

// emptyParams reports whether a TypeCode of kind k has no parameters: its
// kind is all of it on the wire (the "empty" rows of CORBA 3.0 Table 15-2).
func emptyParams(k Kind) bool {
	switch k {
	case giop.TkNull, giop.TkVoid, giop.TkShort, giop.TkLong, giop.TkUShort, giop.TkULong,
		giop.TkFloat, giop.TkDouble, giop.TkBoolean, giop.TkChar, giop.TkOctet, giop.TkAny,
		giop.TkTypeCode, giop.TkPrincipal, giop.TkLongLong, giop.TkULongLong,
		giop.TkLongDouble, giop.TkWChar:
		return true
	}
	return false
}
