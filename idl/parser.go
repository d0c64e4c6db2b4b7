package idl

import (
	"fmt"
	"math"

	"github.com/requestagent/requestagent/giop"
)

// maxNesting bounds every kind of syntactic nesting (scopes, sequence
// type specs, array dimensions, parenthesised and unary expressions) so
// a recursive descent parser cannot exhaust the stack on hostile input.
const maxNesting = 256

// bailout carries the first error out of the recursive descent; the
// parser stops at the first error, as IDL compilers do, because later
// messages would mostly be consequences of it.
type bailout struct{ err error }

// frame is one level of the #pragma prefix state. Frames are pushed for
// each scope opened and each file included, because a prefix set inside
// a module or an included file ends with it (CORBA 3.0 §10.7.5.2).
type prefixFrame struct {
	scope  *scope
	prefix string
	// base is how many leading components of a scoped name the prefix
	// replaces: those of the scope where the prefix was set.
	base int
	file bool
}

// pendingPragma is a #pragma ID or version, applied when the file has
// been parsed: the token lookahead means the parser may not yet have
// recorded the declaration the pragma names when the pragma is read.
type pendingPragma struct {
	p     srcPos
	kind  string
	names []string
	abs   bool
	arg   string
	scope *scope
}

// parser is a recursive descent parser for OMG IDL (CORBA 3.0 chapter 7,
// without component IDL) that resolves names and builds the type model
// as it goes; IDL requires declaration before use, so one pass suffices.
type parser struct {
	pp      *preproc
	tok     token
	global  *scope
	scope   *scope
	frames  []prefixFrame
	depth   int
	angle   int
	decls   []*decl
	pending []pendingPragma
}

// parseSource parses one compilation unit (a file and what it includes).
func parseSource(name, key, dir string, src []byte, opts *Options) (decls []*decl, err error) {
	pp, err := newPreproc(opts)
	if err != nil {
		return nil, err
	}
	p := &parser{pp: pp}
	p.global = newScope(nil, nil)
	p.scope = p.global
	p.frames = []prefixFrame{{scope: p.global, file: true}}
	pp.hooks = ppHooks{pragma: p.pragma, fileBegin: p.fileBegin, fileEnd: p.fileEnd}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			decls, err = nil, b.err
		}
	}()
	pp.push(name, key, dir, src)
	p.next()
	for p.tok.kind != tEOF {
		p.definition()
	}
	p.finish()
	return p.decls, nil
}

// Hooks called by the preprocessor.

func (p *parser) pragma(at srcPos, kind, name, arg string) error {
	if kind == "prefix" {
		f := &p.frames[len(p.frames)-1]
		f.prefix = arg
		f.base = len(f.scope.path)
		return nil
	}
	names, abs, ok := splitPragmaName(name)
	if !ok {
		return errAt(at, ErrPreprocessor, "#pragma %s: malformed name %q", kind, name)
	}
	p.pending = append(p.pending, pendingPragma{p: at, kind: kind, names: names, abs: abs, arg: arg, scope: p.scope})
	return nil
}

func splitPragmaName(s string) ([]string, bool, bool) {
	abs := false
	if len(s) >= 2 && s[:2] == "::" {
		abs = true
		s = s[2:]
	}
	var names []string
	for {
		i := 0
		for i < len(s) && s[i] != ':' {
			i++
		}
		n := s[:i]
		if n == "" {
			return nil, false, false
		}
		if n[0] == '_' {
			n = n[1:]
		}
		names = append(names, n)
		if i == len(s) {
			return names, abs, true
		}
		if i+1 >= len(s) || s[i+1] != ':' {
			return nil, false, false
		}
		s = s[i+2:]
	}
}

func (p *parser) fileBegin(srcPos) {
	p.frames = append(p.frames, prefixFrame{scope: p.scope, base: len(p.scope.path), file: true})
}

func (p *parser) fileEnd(at srcPos) error {
	top := p.frames[len(p.frames)-1]
	if !top.file {
		return errAt(at, ErrSyntax, "included file ends inside %s, which it opened", top.scope.describe())
	}
	p.frames = p.frames[:len(p.frames)-1]
	return nil
}

// finish applies the pending pragmas and computes repository ids.
func (p *parser) finish() {
	for _, pr := range p.pending {
		d, failed := scopeLookup(pr.scope, p.global, pr.names, pr.abs)
		if d == nil || d.parent == nil { // builtins have no parent and no id to set
			name := joinScoped(pr.names, pr.abs)
			if failed != "" {
				p.failf(pr.p, ErrUndeclared, "#pragma %s: %s is not a scope", pr.kind, failed)
			}
			p.failf(pr.p, ErrUndeclared, "#pragma %s names %s, which is not declared", pr.kind, name)
		}
		switch pr.kind {
		case "ID":
			p.setID(d, pr.arg, pr.p, "#pragma ID")
		case "version":
			if d.id != "" {
				p.failf(pr.p, ErrSyntax, "#pragma version for %s, whose repository id was set explicitly", d.scopedName())
			}
			d.version = pr.arg
		}
	}
	for _, d := range p.decls {
		id := d.repoID()
		switch {
		case d.iface != nil:
			d.iface.RepoID = id
			d.typ.RepoID = id
		case d.typ != nil:
			d.typ.RepoID = id
		}
	}
}

// setID records an explicit repository id; assigning a different one
// twice is an error (CORBA 3.0 §10.7.5.1).
func (p *parser) setID(d *decl, id string, at srcPos, what string) {
	if d.id != "" && d.id != id {
		p.failf(at, ErrRedefined, "%s: %s already has repository id %q (set at %s), not %q", what, d.scopedName(), d.id, d.idPos, id)
	}
	d.id, d.idPos = id, at
}

func joinScoped(names []string, abs bool) string {
	s := ""
	if abs {
		s = "::"
	}
	for i, n := range names {
		if i > 0 {
			s += "::"
		}
		s += n
	}
	return s
}

// Token handling.

func (p *parser) next() {
	t, err := p.pp.next()
	if err != nil {
		panic(bailout{err})
	}
	p.tok = t
}

func (p *parser) failf(at srcPos, sentinel error, format string, args ...any) {
	panic(bailout{errAt(at, sentinel, format, args...)})
}

// expected reports that the current token is not what the grammar needs.
func (p *parser) expected(what string) {
	p.failf(p.tok.pos, ErrSyntax, "expected %s, found %s", what, p.tok.describe())
}

func (p *parser) isP(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }

// isKw reports whether the current token is the keyword kw; an escaped
// identifier (_module) never is.
func (p *parser) isKw(kw string) bool {
	return p.tok.kind == tIdent && !p.tok.escaped && p.tok.text == kw
}

func (p *parser) acceptP(s string) bool {
	if p.isP(s) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectP(s, what string) srcPos {
	if !p.isP(s) {
		p.expected(what)
	}
	at := p.tok.pos
	p.next()
	return at
}

func (p *parser) expectKw(kw string) {
	if !p.isKw(kw) {
		p.expected(fmt.Sprintf("%q", kw))
	}
	p.next()
}

// identifier consumes an identifier that is not a keyword.
func (p *parser) identifier(what string) (string, srcPos) {
	t := p.tok
	if t.kind != tIdent || !t.escaped && hardKeywords[t.text] {
		p.expected(what)
	}
	p.next()
	return t.text, t.pos
}

// closeAngle consumes the '>' closing a template type; a '>>' token
// closes two, as in sequence<sequence<long>>.
func (p *parser) closeAngle(what string) {
	switch {
	case p.isP(">"):
		p.next()
	case p.isP(">>"):
		at := p.tok.pos
		at.col++
		p.tok = token{kind: tPunct, text: ">", pos: at}
	default:
		p.expected(what)
	}
}

func (p *parser) enter(at srcPos) {
	p.depth++
	if p.depth > maxNesting {
		p.failf(at, ErrTooDeep, "nesting deeper than %d levels", maxNesting)
	}
}

func (p *parser) leave() { p.depth-- }

// Scopes.

// openScope makes s current and consumes its '{'. The frame is pushed
// while '{' is still the lookahead token, so a #pragma right after the
// brace (read when the parser moves past it) lands in the new scope.
func (p *parser) openScope(s *scope, what string) {
	if !p.isP("{") {
		p.expected(what)
	}
	p.enter(p.tok.pos)
	top := p.frames[len(p.frames)-1]
	p.frames = append(p.frames, prefixFrame{scope: s, prefix: top.prefix, base: top.base})
	p.scope = s
	p.next()
}

// closeScope consumes the '}' of the current scope, popping its frame
// first so a #pragma after the brace applies to the enclosing scope.
func (p *parser) closeScope(what string) {
	if !p.isP("}") {
		p.expected(what)
	}
	top := p.frames[len(p.frames)-1]
	if top.file {
		p.failf(p.tok.pos, ErrSyntax, "'}' closes %s, which was opened in another file", p.scope.describe())
	}
	p.scope.closed = true
	p.frames = p.frames[:len(p.frames)-1]
	p.scope = p.frames[len(p.frames)-1].scope
	p.leave()
	p.next()
}

// declare adds a name to the current scope.
func (p *parser) declare(kind declKind, name string, at srcPos) *decl {
	if old := p.scope.decls[name]; old != nil {
		p.failf(at, ErrRedefined, "%s is already declared in %s (as a %s at %s)", name, p.scope.describe(), old.kind, old.pos)
	}
	path := make([]string, len(p.scope.path)+1)
	copy(path, p.scope.path)
	path[len(path)-1] = name
	top := p.frames[len(p.frames)-1]
	base := top.base
	if base > len(path)-1 {
		base = len(path) - 1
	}
	d := &decl{kind: kind, name: name, path: path, pos: at, parent: p.scope,
		prefix: top.prefix, rel: path[base:], version: "1.0"}
	p.scope.decls[name] = d
	if kind != dOther {
		p.decls = append(p.decls, d)
	}
	return d
}

// scopedName parses [::]ident{::ident}. Components after the first may be
// keywords, so CORBA::Object and CORBA::TypeCode read naturally.
func (p *parser) scopedName(what string) ([]string, bool, srcPos) {
	at := p.tok.pos
	abs := p.acceptP("::")
	var names []string
	for {
		if p.tok.kind != tIdent || len(names) == 0 && !abs && !p.tok.escaped && hardKeywords[p.tok.text] {
			p.expected(what)
		}
		names = append(names, p.tok.text)
		p.next()
		if !p.acceptP("::") {
			return names, abs, at
		}
		if len(names) >= maxNesting {
			p.failf(at, ErrTooDeep, "scoped name longer than %d components", maxNesting)
		}
	}
}

// resolve looks a scoped name up from the current scope.
func (p *parser) resolve(names []string, abs bool, at srcPos) *decl {
	d, failed := scopeLookup(p.scope, p.global, names, abs)
	if d == nil {
		if failed != "" {
			p.failf(at, ErrUndeclared, "%s is not a scope, so %s cannot be resolved", failed, joinScoped(names, abs))
		}
		p.failf(at, ErrUndeclared, "%s is not declared (looked up from %s)", joinScoped(names, abs), p.scope.describe())
	}
	return d
}

// Definitions.

func (p *parser) definition() {
	t := p.tok
	if t.kind != tIdent || t.escaped {
		p.expected("a definition (module, interface, valuetype, struct, union, enum, typedef, const, exception, native)")
	}
	switch t.text {
	case "module":
		p.module()
	case "interface", "abstract", "local", "valuetype", "custom":
		p.interfaceOrValue()
	case "typedef", "struct", "union", "enum", "native":
		p.typeDcl()
	case "const":
		p.constDcl()
	case "exception":
		p.exceptDcl()
	case "typeid":
		p.typeID()
	case "typeprefix":
		p.typePrefix()
	case "import":
		p.failf(t.pos, ErrUnsupported, "import declarations are not supported; use #include")
	case "component", "home", "eventtype":
		p.failf(t.pos, ErrUnsupported, "CORBA component IDL (%s) is not supported", t.text)
	default:
		p.expected("a definition (module, interface, valuetype, struct, union, enum, typedef, const, exception, native)")
	}
	p.expectP(";", "';' after the definition")
}

func (p *parser) module() {
	p.next()
	name, at := p.identifier("a module name")
	d := p.scope.decls[name]
	switch {
	case d == nil:
		d = p.declare(dModule, name, at)
		d.inner = newScope(d, p.scope)
		d.defined = true
	case d.kind != dModule:
		p.failf(at, ErrRedefined, "module %s: %s is already declared in %s (as a %s at %s)", name, name, p.scope.describe(), d.kind, d.pos)
	}
	p.openScope(d.inner, "'{' after the module name")
	for !p.isP("}") {
		if p.tok.kind == tEOF {
			p.expected(fmt.Sprintf("'}' closing module %s (opened at %s)", d.scopedName(), at))
		}
		p.definition()
	}
	p.closeScope("'}'")
}

func (p *parser) typeID() {
	at := p.tok.pos
	p.next()
	names, abs, npos := p.scopedName("a scoped name after typeid")
	d := p.resolve(names, abs, npos)
	if p.tok.kind != tString {
		p.expected("the repository id string after typeid " + joinScoped(names, abs))
	}
	p.setID(d, p.tok.str, at, "typeid")
	p.next()
}

func (p *parser) typePrefix() {
	p.next()
	names, abs, npos := p.scopedName("a scoped name after typeprefix")
	d := p.resolve(names, abs, npos)
	if d.inner == nil {
		p.failf(npos, ErrSyntax, "typeprefix needs a module, interface or value type, and %s is a %s", joinScoped(names, abs), d.kind)
	}
	if p.tok.kind != tString {
		p.expected("the prefix string after typeprefix " + joinScoped(names, abs))
	}
	d.inner.typePrefix = p.tok.str
	p.next()
}

// Interfaces.

func (p *parser) interfaceOrValue() {
	abstract, local, custom := false, false, false
	switch {
	case p.isKw("abstract"):
		abstract = true
		p.next()
	case p.isKw("local"):
		local = true
		p.next()
	case p.isKw("custom"):
		custom = true
		p.next()
	}
	if p.isKw("eventtype") {
		p.failf(p.tok.pos, ErrUnsupported, "CORBA component IDL (eventtype) is not supported")
	}
	if p.isKw("valuetype") && !local {
		p.valueType(abstract, custom)
		return
	}
	if custom {
		p.expected("'valuetype' after 'custom'")
	}
	if !p.isKw("interface") {
		if abstract {
			p.expected("'interface' or 'valuetype' after 'abstract'")
		}
		p.expected("'interface' after 'local'")
	}
	p.next()
	p.interfaceDcl(abstract, local)
}

func (p *parser) interfaceDcl(abstract, local bool) {
	name, at := p.identifier("an interface name")
	d := p.scope.decls[name]
	if d != nil {
		if d.kind != dInterface {
			p.failf(at, ErrRedefined, "interface %s: %s is already declared in %s (as a %s at %s)", name, name, p.scope.describe(), d.kind, d.pos)
		}
		if d.iface.Abstract != abstract || d.iface.Local != local {
			p.failf(at, ErrRedefined, "interface %s is declared as %s here but as %s at %s", name, ifaceFlavor(abstract, local), ifaceFlavor(d.iface.Abstract, d.iface.Local), d.pos)
		}
	} else {
		d = p.declare(dInterface, name, at)
		kind := giop.TkObjref
		switch {
		case abstract:
			kind = giop.TkAbstractInterface
		case local:
			kind = giop.TkLocalInterface
		}
		d.iface = &Interface{Name: d.scopedName(), Abstract: abstract, Local: local}
		d.typ = &Type{Kind: kind, Name: d.scopedName(), Interface: d.iface}
		d.iface.Type = d.typ
	}
	if p.isP(";") {
		return // forward declaration
	}
	if d.defined {
		p.failf(at, ErrRedefined, "interface %s is already defined at %s", name, d.pos)
	}
	d.pos = at
	var bases []*scope
	if p.acceptP(":") {
		dup := map[*Interface]bool{}
		for {
			names, abs, bpos := p.scopedName("a base interface name")
			b := p.resolve(names, abs, bpos)
			if b.typ == objectType || b.typ == abstractBaseType {
				// Every interface is a CORBA::Object already; naming it
				// as a base changes nothing.
				if !p.acceptP(",") {
					break
				}
				continue
			}
			switch {
			case b.kind != dInterface:
				p.failf(bpos, ErrSyntax, "interface %s cannot inherit from %s, which is a %s", name, joinScoped(names, abs), b.kind)
			case !b.defined:
				p.failf(bpos, ErrSyntax, "interface %s cannot inherit from %s, which is only forward-declared", name, b.scopedName())
			case abstract && !b.iface.Abstract:
				p.failf(bpos, ErrSyntax, "abstract interface %s can only inherit from abstract interfaces, and %s is not one", name, b.scopedName())
			case !local && b.iface.Local:
				p.failf(bpos, ErrSyntax, "unconstrained interface %s cannot inherit from local interface %s", name, b.scopedName())
			}
			if dup[b.iface] {
				p.failf(bpos, ErrRedefined, "interface %s inherits from %s twice", name, b.scopedName())
			}
			dup[b.iface] = true
			d.iface.Bases = append(d.iface.Bases, b.iface)
			bases = append(bases, b.inner)
			if !p.acceptP(",") {
				break
			}
		}
	}
	d.defined = true
	d.inner = newScope(d, p.scope)
	d.inner.bases = bases
	p.openScope(d.inner, "'{' or ':' after the interface name")
	for !p.isP("}") {
		if p.tok.kind == tEOF {
			p.expected(fmt.Sprintf("'}' closing interface %s (opened at %s)", d.scopedName(), at))
		}
		p.export(d.iface)
	}
	p.closeScope("'}'")
}

func ifaceFlavor(abstract, local bool) string {
	switch {
	case abstract:
		return "abstract"
	case local:
		return "local"
	}
	return "unconstrained"
}

// export parses one declaration inside an interface or value type body.
// iface is nil in value types, whose operations are parsed but not kept
// (value types are not marshalled).
func (p *parser) export(iface *Interface) {
	t := p.tok
	if t.kind == tIdent && !t.escaped {
		switch t.text {
		case "typedef", "struct", "union", "enum", "native":
			p.typeDcl()
		case "const":
			p.constDcl()
		case "exception":
			p.exceptDcl()
		case "readonly", "attribute":
			p.attribute(iface)
		case "typeid":
			p.typeID()
		case "typeprefix":
			p.typePrefix()
		case "module", "interface", "valuetype", "abstract", "local", "custom":
			p.failf(t.pos, ErrSyntax, "%s declarations are not allowed inside %s", t.text, p.scope.describe())
		default:
			p.operation(iface)
		}
	} else {
		p.operation(iface)
	}
	p.expectP(";", "';' after the declaration")
}

func (p *parser) operation(iface *Interface) {
	op := &Operation{Interface: iface}
	if p.isKw("oneway") {
		op.Oneway = true
		p.next()
	}
	if p.isKw("void") {
		op.Result = basicTypes[giop.TkVoid]
		p.next()
	} else {
		if p.tok.kind != tIdent && !p.isP("::") {
			p.expected("an operation, attribute or type declaration")
		}
		op.Result = p.typeSpec(false)
	}
	name, at := p.identifier("an operation name")
	op.Name = name
	p.declare(dOther, name, at)
	p.expectP("(", "'(' after the operation name")
	seen := map[string]bool{}
	if !p.isP(")") {
		for {
			var dir Direction
			switch {
			case p.isKw("in"):
				dir = In
			case p.isKw("out"):
				dir = Out
			case p.isKw("inout"):
				dir = InOut
			default:
				p.expected("a parameter direction (in, out or inout)")
			}
			p.next()
			typ := p.typeSpec(false)
			pname, ppos := p.identifier("a parameter name")
			if seen[pname] {
				p.failf(ppos, ErrRedefined, "operation %s has two parameters named %s", name, pname)
			}
			seen[pname] = true
			op.Params = append(op.Params, Param{Name: pname, Dir: dir, Type: typ})
			if !p.acceptP(",") {
				break
			}
		}
	}
	p.expectP(")", "',' or ')' in the parameter list")
	if p.isKw("raises") {
		op.Raises = p.raisesList("raises")
	}
	if p.isKw("context") {
		p.next()
		p.expectP("(", "'(' after context")
		for {
			if p.tok.kind != tString {
				p.expected("a context name string")
			}
			op.Contexts = append(op.Contexts, p.stringLiteral().s)
			if !p.acceptP(",") {
				break
			}
		}
		p.expectP(")", "',' or ')' in the context list")
	}
	if op.Oneway {
		switch {
		case op.Result.Kind != giop.TkVoid:
			p.failf(at, ErrSyntax, "oneway operation %s must return void", name)
		case len(op.Raises) > 0:
			p.failf(at, ErrSyntax, "oneway operation %s cannot raise user exceptions", name)
		}
		for _, prm := range op.Params {
			if prm.Dir != In {
				p.failf(at, ErrSyntax, "oneway operation %s has %s parameter %s; only in parameters are allowed", name, prm.Dir, prm.Name)
			}
		}
	}
	if iface != nil {
		iface.Operations = append(iface.Operations, op)
	}
}

// raisesList parses "raises (E1, E2)" (or getraises/setraises); the
// keyword is the current token.
func (p *parser) raisesList(kw string) []*Type {
	p.next()
	p.expectP("(", "'(' after "+kw)
	var out []*Type
	for {
		names, abs, at := p.scopedName("an exception name")
		d := p.resolve(names, abs, at)
		if d.typ == nil || d.typ.Kind != giop.TkExcept {
			p.failf(at, ErrSyntax, "%s lists %s, which is not an exception", kw, joinScoped(names, abs))
		}
		out = append(out, d.typ)
		if !p.acceptP(",") {
			break
		}
	}
	p.expectP(")", "',' or ')' in the "+kw+" list")
	return out
}

func (p *parser) attribute(iface *Interface) {
	readonly := false
	if p.isKw("readonly") {
		readonly = true
		p.next()
	}
	p.expectKw("attribute")
	typ := p.typeSpec(false)
	var attrs []*Attribute
	for {
		name, at := p.identifier("an attribute name")
		p.declare(dOther, name, at)
		attrs = append(attrs, &Attribute{Name: name, Type: typ, Readonly: readonly})
		if !p.acceptP(",") {
			break
		}
	}
	// getraises/setraises are CORBA 3 keywords only here, where nothing
	// else can follow a declarator.
	if len(attrs) == 1 {
		a := attrs[0]
		if readonly && p.isKw("raises") {
			a.GetRaises = p.raisesList("raises")
		}
		if !readonly && p.isKw("getraises") {
			a.GetRaises = p.raisesList("getraises")
		}
		if !readonly && p.isKw("setraises") {
			a.SetRaises = p.raisesList("setraises")
		}
	}
	if iface != nil {
		iface.Attributes = append(iface.Attributes, attrs...)
	}
}

// Value types (CORBA 3.0 §7.8). They are parsed into the model but not
// marshalled.

func (p *parser) valueType(abstract, custom bool) {
	p.next() // valuetype
	name, at := p.identifier("a value type name")
	d := p.scope.decls[name]
	if d != nil && d.kind != dValue {
		p.failf(at, ErrRedefined, "valuetype %s: %s is already declared in %s (as a %s at %s)", name, name, p.scope.describe(), d.kind, d.pos)
	}
	if p.isP(";") {
		if d == nil {
			d = p.declare(dValue, name, at)
			d.typ = &Type{Kind: giop.TkValue, Name: d.scopedName()}
			d.abstract = abstract
		}
		return // forward declaration
	}
	if d != nil && d.defined {
		p.failf(at, ErrRedefined, "value type %s is already defined at %s", name, d.pos)
	}
	if !abstract && !custom && !p.isP(":") && !p.isKw("supports") && !p.isP("{") {
		// valuetype Name <type>: a value box.
		if d != nil {
			p.failf(at, ErrRedefined, "value box %s was forward-declared as a value type at %s", name, d.pos)
		}
		d = p.declare(dType, name, at)
		d.typ = &Type{Kind: giop.TkValueBox, Name: d.scopedName()}
		elem := p.typeSpec(true)
		if k := stripAlias(elem).Kind; k == giop.TkValue || k == giop.TkValueBox {
			p.failf(at, ErrSyntax, "value box %s cannot box the value type %s", name, typeString(elem))
		}
		d.typ.Elem = elem
		d.defined = true
		return
	}
	if d == nil {
		d = p.declare(dValue, name, at)
		d.typ = &Type{Kind: giop.TkValue, Name: d.scopedName()}
	}
	d.pos = at
	d.abstract = abstract
	var bases []*scope
	if p.acceptP(":") {
		if p.isKw("truncatable") {
			p.next()
		}
		for i := 0; ; i++ {
			names, abs, bpos := p.scopedName("a base value type name")
			b := p.resolve(names, abs, bpos)
			switch {
			case b.typ == valueBaseType:
				// ValueBase is every value type's base already.
			case b.kind != dValue || !b.defined:
				p.failf(bpos, ErrSyntax, "value type %s cannot inherit from %s: not a defined value type", name, joinScoped(names, abs))
			default:
				if i == 0 && !b.abstract {
					d.typ.Base = b.typ
				}
				bases = append(bases, b.inner)
			}
			if !p.acceptP(",") {
				break
			}
		}
	}
	if p.isKw("supports") {
		p.next()
		for {
			names, abs, bpos := p.scopedName("a supported interface name")
			b := p.resolve(names, abs, bpos)
			if b.kind != dInterface || !b.defined {
				p.failf(bpos, ErrSyntax, "value type %s cannot support %s: not a defined interface", name, joinScoped(names, abs))
			}
			bases = append(bases, b.inner)
			if !p.acceptP(",") {
				break
			}
		}
	}
	d.defined = true
	d.inner = newScope(d, p.scope)
	d.inner.bases = bases
	p.openScope(d.inner, "'{' after the value type header")
	for !p.isP("}") {
		switch {
		case p.tok.kind == tEOF:
			p.expected(fmt.Sprintf("'}' closing value type %s (opened at %s)", d.scopedName(), at))
		case p.isKw("public") || p.isKw("private"):
			public := p.isKw("public")
			p.next()
			typ := p.typeSpec(true)
			p.declarators(typ, "a state member name", func(n string, mpos srcPos, t *Type) {
				p.declare(dOther, n, mpos)
				d.typ.Members = append(d.typ.Members, Member{Name: n, Type: t, Public: public})
			})
			p.expectP(";", "';' after the state member")
		case p.isKw("factory"):
			p.initializer()
		default:
			p.export(nil)
		}
	}
	p.closeScope("'}'")
}

// initializer parses a value type factory; factories are not kept.
func (p *parser) initializer() {
	p.next()
	name, at := p.identifier("a factory name")
	p.declare(dOther, name, at)
	p.expectP("(", "'(' after the factory name")
	if !p.isP(")") {
		for {
			if !p.isKw("in") {
				p.expected("'in' (factory parameters are in parameters)")
			}
			p.next()
			p.typeSpec(false)
			p.identifier("a parameter name")
			if !p.acceptP(",") {
				break
			}
		}
	}
	p.expectP(")", "',' or ')' in the factory parameter list")
	if p.isKw("raises") {
		p.raisesList("raises")
	}
	p.expectP(";", "';' after the factory")
}

// Types.

func (p *parser) typeDcl() {
	switch {
	case p.isKw("typedef"):
		p.next()
		base := p.typeSpec(true)
		p.declarators(base, "a type name", func(name string, at srcPos, t *Type) {
			d := p.declare(dType, name, at)
			d.typ = &Type{Kind: giop.TkAlias, Name: d.scopedName(), Elem: t}
			d.defined = true
		})
	case p.isKw("struct"):
		p.structType(true)
	case p.isKw("union"):
		p.unionType(true)
	case p.isKw("enum"):
		p.enumType()
	case p.isKw("native"):
		p.next()
		name, at := p.identifier("a native type name")
		d := p.declare(dType, name, at)
		d.typ = &Type{Kind: giop.TkNative, Name: d.scopedName()}
		d.defined = true
	}
}

// declarators parses "a, b[3][4], c" and calls fn with each declared
// name and its type (arrays wrap base).
func (p *parser) declarators(base *Type, what string, fn func(string, srcPos, *Type)) {
	for {
		name, at := p.identifier(what)
		fn(name, at, p.arrayDims(base))
		if !p.acceptP(",") {
			return
		}
	}
}

// arrayDims parses fixed array sizes after a declarator. long a[3][4] is
// an array of 3 arrays of 4 longs.
func (p *parser) arrayDims(t *Type) *Type {
	var dims []uint32
	for p.isP("[") {
		at := p.tok.pos
		p.next()
		dims = append(dims, p.positiveInt("an array size"))
		p.expectP("]", "']' after the array size")
		if len(dims) > maxNesting {
			p.failf(at, ErrTooDeep, "more than %d array dimensions", maxNesting)
		}
	}
	for i := len(dims) - 1; i >= 0; i-- {
		t = &Type{Kind: giop.TkArray, Length: dims[i], Elem: t}
	}
	return t
}

// oneWordTypes are the type keywords that stand alone: no other keyword
// may follow them to make another type (unlike long and unsigned).
var oneWordTypes = map[string]*Type{
	"short":     basicTypes[giop.TkShort],
	"float":     basicTypes[giop.TkFloat],
	"double":    basicTypes[giop.TkDouble],
	"char":      basicTypes[giop.TkChar],
	"wchar":     basicTypes[giop.TkWChar],
	"boolean":   basicTypes[giop.TkBoolean],
	"octet":     basicTypes[giop.TkOctet],
	"any":       basicTypes[giop.TkAny],
	"Object":    objectType,
	"ValueBase": valueBaseType,
}

// typeSpec parses a type specification. constr allows the constructed
// types (struct, union, enum) to be defined in place, as in typedefs,
// members and value boxes.
func (p *parser) typeSpec(constr bool) *Type {
	t := p.tok
	if t.kind == tIdent && !t.escaped {
		if bt, ok := oneWordTypes[t.text]; ok {
			p.next()
			return bt
		}
		switch t.text {
		case "long":
			p.next()
			switch {
			case p.isKw("long"):
				p.next()
				return basicTypes[giop.TkLongLong]
			case p.isKw("double"):
				p.next()
				return basicTypes[giop.TkLongDouble]
			}
			return basicTypes[giop.TkLong]
		case "unsigned":
			p.next()
			switch {
			case p.isKw("short"):
				p.next()
				return basicTypes[giop.TkUShort]
			case p.isKw("long"):
				p.next()
				if p.isKw("long") {
					p.next()
					return basicTypes[giop.TkULongLong]
				}
				return basicTypes[giop.TkULong]
			}
			p.expected("'short' or 'long' after 'unsigned'")
		case "string", "wstring":
			return p.stringType()
		case "sequence":
			return p.sequenceType()
		case "fixed":
			p.next()
			if !p.isP("<") {
				p.expected("'<' after fixed (fixed<digits, scale>)")
			}
			return p.fixedParams()
		case "struct", "union", "enum":
			if !constr {
				p.failf(t.pos, ErrSyntax, "a %s cannot be defined here; declare it first and use its name", t.text)
			}
			switch t.text {
			case "struct":
				return p.structType(false)
			case "union":
				return p.unionType(false)
			}
			return p.enumType()
		}
		if hardKeywords[t.text] {
			p.expected("a type")
		}
	}
	if t.kind != tIdent && !p.isP("::") {
		p.expected("a type")
	}
	names, abs, at := p.scopedName("a type name")
	d := p.resolve(names, abs, at)
	if d.typ == nil || d.kind == dConst || d.kind == dOther {
		p.failf(at, ErrSyntax, "%s is a %s, not a type", joinScoped(names, abs), d.kind)
	}
	return d.typ
}

func (p *parser) stringType() *Type {
	kind := giop.TkString
	if p.isKw("wstring") {
		kind = giop.TkWString
	}
	p.next()
	if !p.isP("<") {
		return basicTypes[kind]
	}
	p.next()
	p.angle++
	bound := p.positiveInt("a string bound")
	p.angle--
	p.closeAngle("'>' after the string bound")
	return &Type{Kind: kind, Bound: bound}
}

func (p *parser) sequenceType() *Type {
	at := p.tok.pos
	p.enter(at)
	p.next()
	p.expectP("<", "'<' after sequence")
	elem := p.typeSpec(false)
	t := &Type{Kind: giop.TkSequence, Elem: elem}
	if p.acceptP(",") {
		p.angle++
		t.Bound = p.positiveInt("a sequence bound")
		p.angle--
	}
	p.closeAngle("',' or '>' in the sequence type")
	p.leave()
	return t
}

// fixedParams parses <digits, scale>; '<' is current.
func (p *parser) fixedParams() *Type {
	at := p.tok.pos
	p.next()
	p.angle++
	digits := p.positiveInt("the number of digits")
	if digits > 31 {
		p.failf(at, ErrBadConst, "fixed type has %d digits; at most 31 are allowed", digits)
	}
	p.expectP(",", "',' between fixed digits and scale")
	v := p.constExpr()
	p.angle--
	if v.kind != cvInt || v.i.Sign() < 0 || v.i.Cmp(bigOf(int64(digits))) > 0 {
		p.failf(v.pos, ErrBadConst, "fixed scale must be an integer from 0 to %d, found %s", digits, v)
	}
	p.closeAngle("'>' after the fixed scale")
	return &Type{Kind: giop.TkFixed, Digits: uint16(digits), Scale: int16(v.i.Int64())}
}

// structType parses a struct definition or, at definition level,
// a forward declaration.
func (p *parser) structType(forwardOK bool) *Type {
	return p.structLike(giop.TkStruct, forwardOK)
}

func (p *parser) exceptDcl() {
	p.structLike(giop.TkExcept, false)
}

func (p *parser) structLike(kind Kind, forwardOK bool) *Type {
	kw := p.tok.text
	p.next()
	name, at := p.identifier("a " + kw + " name")
	d := p.scope.decls[name]
	if d != nil && (d.kind != dType || d.typ.Kind != kind || d.defined && !p.isP(";")) {
		p.failf(at, ErrRedefined, "%s %s: %s is already declared in %s (at %s)", kw, name, name, p.scope.describe(), d.pos)
	}
	if forwardOK && kind == giop.TkStruct && p.isP(";") {
		if d == nil {
			d = p.declare(dType, name, at)
			d.typ = &Type{Kind: kind, Name: d.scopedName()}
		}
		return d.typ
	}
	if d == nil {
		d = p.declare(dType, name, at)
		d.typ = &Type{Kind: kind, Name: d.scopedName()}
	}
	d.pos = at
	d.inner = newScope(d, p.scope)
	p.openScope(d.inner, "'{' after the "+kw+" name")
	for !p.isP("}") {
		if p.tok.kind == tEOF {
			p.expected(fmt.Sprintf("'}' closing %s %s (opened at %s)", kw, d.scopedName(), at))
		}
		typ := p.typeSpec(true)
		p.declarators(typ, "a member name", func(n string, mpos srcPos, t *Type) {
			p.declare(dOther, n, mpos)
			d.typ.Members = append(d.typ.Members, Member{Name: n, Type: t})
		})
		p.expectP(";", "';' after the member")
	}
	p.closeScope("'}'")
	d.defined = true
	return d.typ
}

func (p *parser) enumType() *Type {
	p.next()
	name, at := p.identifier("an enum name")
	d := p.declare(dType, name, at)
	t := &Type{Kind: giop.TkEnum, Name: d.scopedName()}
	d.typ = t
	d.defined = true
	p.expectP("{", "'{' after the enum name")
	for {
		// Enumerators belong to the enclosing scope (CORBA 3.0 §7.11.2.4).
		e, epos := p.identifier("an enumerator name")
		ed := p.declare(dConst, e, epos)
		ed.konst = &Const{Name: ed.scopedName(), Type: t, Value: e}
		t.Enumerators = append(t.Enumerators, e)
		if uint64(len(t.Enumerators)) > math.MaxUint32 {
			p.failf(epos, ErrBadConst, "enum %s has too many enumerators", name)
		}
		if !p.acceptP(",") {
			break
		}
	}
	p.expectP("}", "',' or '}' in the enumerator list")
	return t
}

func (p *parser) unionType(forwardOK bool) *Type {
	p.next()
	name, at := p.identifier("a union name")
	d := p.scope.decls[name]
	if d != nil && (d.kind != dType || d.typ.Kind != giop.TkUnion || d.defined && !p.isP(";")) {
		p.failf(at, ErrRedefined, "union %s: %s is already declared in %s (at %s)", name, name, p.scope.describe(), d.pos)
	}
	if forwardOK && p.isP(";") {
		if d == nil {
			d = p.declare(dType, name, at)
			d.typ = &Type{Kind: giop.TkUnion, Name: d.scopedName()}
		}
		return d.typ
	}
	if d == nil {
		d = p.declare(dType, name, at)
		d.typ = &Type{Kind: giop.TkUnion, Name: d.scopedName()}
	}
	d.pos = at
	t := d.typ
	p.expectKw("switch")
	p.expectP("(", "'(' after switch")
	dpos := p.tok.pos
	t.Disc = p.typeSpec(true)
	switch stripAlias(t.Disc).Kind {
	case giop.TkShort, giop.TkLong, giop.TkUShort, giop.TkULong, giop.TkLongLong,
		giop.TkULongLong, giop.TkChar, giop.TkWChar, giop.TkBoolean, giop.TkEnum, giop.TkOctet:
	default:
		p.failf(dpos, ErrSyntax, "union %s: a discriminator must be an integer, char, wchar, boolean, octet or enum type, not %s", name, typeString(t.Disc))
	}
	p.expectP(")", "')' after the discriminator type")
	d.inner = newScope(d, p.scope)
	p.openScope(d.inner, "'{' after the union header")
	labels := map[int64]srcPos{}
	hasDefault := false
	for !p.isP("}") {
		if p.tok.kind == tEOF {
			p.expected(fmt.Sprintf("'}' closing union %s (opened at %s)", d.scopedName(), at))
		}
		var c UnionCase
		for p.isKw("case") || p.isKw("default") {
			lpos := p.tok.pos
			if p.isKw("default") {
				if hasDefault {
					p.failf(lpos, ErrRedefined, "union %s has two default labels", name)
				}
				hasDefault, c.IsDefault = true, true
				p.next()
			} else {
				p.next()
				v := p.constExpr()
				l := p.label(v, t.Disc)
				if prev, ok := labels[l]; ok {
					p.failf(v.pos, ErrRedefined, "union %s: case label %s is already used at %s", name, v, prev)
				}
				labels[l] = v.pos
				c.Labels = append(c.Labels, l)
			}
			p.expectP(":", "':' after the case label")
		}
		if len(c.Labels) == 0 && !c.IsDefault {
			p.expected("'case' or 'default'")
		}
		typ := p.typeSpec(true)
		mname, mpos := p.identifier("a union member name")
		p.declare(dOther, mname, mpos)
		c.Name, c.Type = mname, p.arrayDims(typ)
		t.Cases = append(t.Cases, c)
		p.expectP(";", "';' after the union member")
	}
	if len(t.Cases) == 0 {
		p.expected("a union case")
	}
	p.closeScope("'}'")
	d.defined = true
	return t
}

// Constants.

func (p *parser) constDcl() {
	p.next()
	typ := p.constType()
	name, at := p.identifier("a constant name")
	p.expectP("=", "'=' after the constant name")
	v := p.constExpr()
	val := p.convert(v, typ)
	if typ.Kind == giop.TkFixed && typ.Digits == 0 {
		// "const fixed F = 1.50d;" takes digits and scale from the value.
		_, digits, scale := fixedDecimal(ratOf(v))
		typ = &Type{Kind: giop.TkFixed, Digits: uint16(digits), Scale: int16(scale)}
	}
	d := p.declare(dConst, name, at)
	d.konst = &Const{Name: d.scopedName(), Type: typ, Value: val}
	d.defined = true
}

func (p *parser) constType() *Type {
	at := p.tok.pos
	if p.isKw("fixed") {
		p.next()
		if p.isP("<") {
			return p.fixedParams()
		}
		return &Type{Kind: giop.TkFixed}
	}
	if p.isKw("struct") || p.isKw("union") || p.isKw("enum") || p.isKw("sequence") {
		p.failf(at, ErrSyntax, "a constant cannot have a %s type", p.tok.text)
	}
	t := p.typeSpec(false)
	switch stripAlias(t).Kind {
	case giop.TkShort, giop.TkLong, giop.TkUShort, giop.TkULong, giop.TkLongLong, giop.TkULongLong,
		giop.TkChar, giop.TkWChar, giop.TkBoolean, giop.TkFloat, giop.TkDouble, giop.TkLongDouble,
		giop.TkString, giop.TkWString, giop.TkFixed, giop.TkOctet, giop.TkEnum:
		return t
	}
	p.failf(at, ErrSyntax, "a constant cannot have type %s", typeString(t))
	return nil
}
