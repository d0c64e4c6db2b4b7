package idl

import (
	"strings"

	"github.com/requestagent/requestagent/giop"
)

// declKind is what a name in a scope denotes.
type declKind int

const (
	dModule declKind = iota
	dInterface
	dValue
	// dType is a struct, union, enum, typedef, exception, native or value box.
	dType
	// dConst is a constant or an enumerator.
	dConst
	// dOther is a name that occupies a scope but is never looked up as a
	// type or constant: members, operations, attributes.
	dOther
)

// String names the kind in error messages.
func (k declKind) String() string {
	switch k {
	case dModule:
		return "module"
	case dInterface:
		return "interface"
	case dValue:
		return "value type"
	case dType:
		return "type"
	case dConst:
		return "constant"
	}
	return "member"
}

// decl is a declared name.
type decl struct {
	kind declKind
	name string
	path []string // the scoped name's components
	pos  srcPos
	// parent is the scope the name is declared in.
	parent *scope
	// inner is the scope this declaration opens (modules, interfaces,
	// value types, structs, unions, exceptions), once it is defined.
	inner *scope
	// defined is false while only a forward declaration has been seen.
	defined bool
	// The repository id is computed when the file has been parsed,
	// because #pragma ID and #pragma version may follow the declaration:
	// prefix and rel are the #pragma prefix in effect where the name was
	// declared and the name's components relative to the scope where
	// that prefix was set (CORBA 3.0 §10.7.5.2).
	prefix  string
	rel     []string
	version string
	id      string
	idPos   srcPos

	typ   *Type
	iface *Interface
	konst *Const
	// abstract marks an abstract value type (it cannot be a concrete base).
	abstract bool
}

func (d *decl) scopedName() string { return strings.Join(d.path, "::") }

// repoID computes the repository id: an explicit one from #pragma ID or
// typeid, else the IDL format "IDL:prefix/A/B:major.minor". A typeprefix
// declaration on the definition's own scope or an enclosing one takes
// precedence over #pragma prefix.
func (d *decl) repoID() string {
	if d.id != "" {
		return d.id
	}
	prefix, rel := d.prefix, d.rel
	if d.inner != nil && d.inner.typePrefix != "" {
		prefix, rel = d.inner.typePrefix, d.path
	} else {
		for s := d.parent; s != nil; s = s.parent {
			if s.typePrefix != "" {
				prefix, rel = s.typePrefix, d.path
				break
			}
		}
	}
	var b strings.Builder
	b.WriteString("IDL:")
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(rel, "/"))
	b.WriteByte(':')
	b.WriteString(d.version)
	return b.String()
}

// scope is a naming scope: the file (global scope), a module, interface,
// value type, struct, union or exception.
type scope struct {
	path   []string
	parent *scope
	owner  *decl
	decls  map[string]*decl
	// bases are the scopes whose names this one inherits: base
	// interfaces, base value types and supported interfaces.
	bases []*scope
	// typePrefix is set by a typeprefix declaration naming this scope.
	typePrefix string
	// closed is set when the scope's closing brace has been parsed; its
	// names can no longer change, so find may cache inherited lookups.
	closed bool
	// inherited caches find's results (nil included) in a closed scope
	// with bases, so a long inheritance chain is walked once per name
	// rather than once per use.
	inherited map[string]*decl
}

func newScope(owner *decl, parent *scope) *scope {
	s := &scope{parent: parent, owner: owner, decls: map[string]*decl{}}
	if owner != nil {
		s.path = owner.path
	}
	return s
}

// describe names the scope in messages.
func (s *scope) describe() string {
	if s.owner == nil {
		return "the global scope"
	}
	kind := s.owner.kind.String()
	if s.owner.kind == dType && s.owner.typ != nil {
		switch s.owner.typ.Kind {
		case giop.TkExcept:
			kind = "exception"
		case giop.TkStruct, giop.TkUnion:
			kind = s.owner.typ.Kind.String()
		}
	}
	return kind + " " + s.owner.scopedName()
}

// find looks name up in s and, depth first, in the scopes s inherits.
// seen guards against revisiting a base reached by several paths, which
// would otherwise make diamond-heavy inheritance exponential.
func (s *scope) find(name string, seen map[*scope]bool) *decl {
	if d := s.decls[name]; d != nil {
		return d
	}
	if len(s.bases) == 0 {
		return nil
	}
	if d, ok := s.inherited[name]; ok {
		return d
	}
	if seen == nil {
		seen = map[*scope]bool{}
	}
	seen[s] = true
	var found *decl
	for _, b := range s.bases {
		// A base already seen was searched in full without success
		// (inheritance is acyclic), so skipping it loses nothing and the
		// result is safe to cache.
		if seen[b] {
			continue
		}
		if d := b.find(name, seen); d != nil && d.kind != dOther {
			found = d
			break
		}
	}
	if s.closed {
		if s.inherited == nil {
			s.inherited = map[string]*decl{}
		}
		s.inherited[name] = found
	}
	return found
}

// scopeLookup resolves a scoped name from scope from (CORBA 3.0 §7.20.3): the
// first component of a relative name is searched in from, the scopes it
// inherits and then the enclosing scopes outwards; the following ones
// only inside the scope found so far. It returns the declaration, or nil
// and the prefix of the name that failed.
func scopeLookup(from, global *scope, names []string, abs bool) (*decl, string) {
	var d *decl
	if abs {
		d = global.decls[names[0]]
	} else {
		for s := from; s != nil && d == nil; s = s.parent {
			d = s.find(names[0], nil)
		}
	}
	for i := 1; d != nil && i < len(names); i++ {
		if d.inner == nil {
			return nil, strings.Join(names[:i], "::")
		}
		d = d.inner.find(names[i], nil)
	}
	if d == nil {
		if b := builtinDecl(names); b != nil {
			return b, ""
		}
		return nil, ""
	}
	return d, ""
}

// builtinDecl resolves the names IDL compilers know without a declaration:
// CORBA::TypeCode (and TypeCode, which pre-CORBA 3 files use bare),
// CORBA::Object, CORBA::ValueBase, CORBA::AbstractBase and
// CORBA::Principal.
func builtinDecl(names []string) *decl {
	var n string
	switch {
	case len(names) == 1:
		n = names[0]
	case len(names) == 2 && names[0] == "CORBA":
		n = names[1]
	default:
		return nil
	}
	var t *Type
	switch n {
	case "TypeCode":
		t = typeCodeType
	case "Object":
		if len(names) == 1 {
			return nil
		}
		t = objectType
	case "ValueBase":
		if len(names) == 1 {
			return nil
		}
		t = valueBaseType
	case "AbstractBase":
		t = abstractBaseType
	case "Principal":
		t = principalType
	default:
		return nil
	}
	return &decl{kind: dType, name: n, path: []string{"CORBA", n}, typ: t, defined: true}
}

// Types every parse shares. They are read-only like all Types the parser
// hands out.
var (
	basicTypes = func() map[Kind]*Type {
		m := map[Kind]*Type{}
		for _, k := range []Kind{giop.TkVoid, giop.TkShort, giop.TkLong, giop.TkUShort,
			giop.TkULong, giop.TkFloat, giop.TkDouble, giop.TkBoolean, giop.TkChar,
			giop.TkOctet, giop.TkAny, giop.TkLongLong, giop.TkULongLong,
			giop.TkLongDouble, giop.TkWChar, giop.TkString, giop.TkWString} {
			m[k] = &Type{Kind: k}
		}
		return m
	}()
	typeCodeType     = &Type{Kind: giop.TkTypeCode, Name: "CORBA::TypeCode", RepoID: "IDL:omg.org/CORBA/TypeCode:1.0"}
	principalType    = &Type{Kind: giop.TkPrincipal, Name: "CORBA::Principal", RepoID: "IDL:omg.org/CORBA/Principal:1.0"}
	objectType       = &Type{Kind: giop.TkObjref, Name: "CORBA::Object", RepoID: "IDL:omg.org/CORBA/Object:1.0"}
	valueBaseType    = &Type{Kind: giop.TkValue, Name: "CORBA::ValueBase", RepoID: "IDL:omg.org/CORBA/ValueBase:1.0"}
	abstractBaseType = &Type{Kind: giop.TkAbstractInterface, Name: "CORBA::AbstractBase", RepoID: "IDL:omg.org/CORBA/AbstractBase:1.0"}
)

// maxAliasChain bounds alias walks; the parser cannot build alias cycles,
// but a Type built by hand could.
const maxAliasChain = 1 << 16

// stripAlias follows typedefs to the type they name.
func stripAlias(t *Type) *Type {
	for i := 0; t != nil && t.Kind == giop.TkAlias && t.Elem != nil && i < maxAliasChain; i++ {
		t = t.Elem
	}
	return t
}

// typeString names a type in error messages.
func typeString(t *Type) string {
	if t == nil {
		return "no type"
	}
	if t.Name != "" {
		return t.Name
	}
	switch t.Kind {
	case giop.TkSequence:
		return "sequence<" + typeString(t.Elem) + ">"
	case giop.TkArray:
		return "array of " + typeString(t.Elem)
	case giop.TkULong:
		return "unsigned long"
	case giop.TkUShort:
		return "unsigned short"
	case giop.TkLongLong:
		return "long long"
	case giop.TkULongLong:
		return "unsigned long long"
	case giop.TkLongDouble:
		return "long double"
	}
	return t.Kind.String()
}
