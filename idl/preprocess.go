package idl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits of the preprocessor. They exist so that hostile or broken input
// (an include cycle, an exponential include tree, a self-referencing
// macro) ends in an error instead of a hang or a crash.
const (
	// maxIncludeDepth bounds the #include stack.
	maxIncludeDepth = 64
	// maxIncludes bounds how many files one load may open in total,
	// counting repeats: a tree of unguarded files each including the next
	// twice would otherwise be exponential.
	maxIncludes = 10000
	// maxFileSize bounds one source file.
	maxFileSize = 64 << 20
	// maxMacroTokens bounds the tokens produced by expanding one macro use.
	maxMacroTokens = 1 << 16
	// maxMacroDepth bounds nested macro expansion and #if recursion.
	maxMacroDepth = 64
)

// macro is an object-like macro (#define NAME body). Function-like
// macros are remembered so #ifdef sees them, but using one is an error.
type macro struct {
	body     string
	funcLike bool
}

// cond is one open #if/#ifdef/#ifndef group of a file.
type ppCond struct {
	// active is whether the current branch is compiled.
	active bool
	// taken is whether some branch of the group has been compiled (or
	// the enclosing group is inactive), so later #elif/#else are not.
	taken   bool
	sawElse bool
	pos     srcPos
}

// ppFile is one file on the include stack.
type ppFile struct {
	sc *scanner
	// key identifies the file for cycle detection, include guards and
	// #pragma once.
	key   string
	dir   string
	conds []ppCond
	// Include-guard detection: the whole file is "#ifndef G ... #endif"
	// with nothing significant outside, so a later include of it while G
	// is defined can be skipped without reading it.
	guard       string
	sigBefore   bool
	guardClosed bool
	sigAfter    bool
}

func (f *ppFile) active() bool {
	return len(f.conds) == 0 || f.conds[len(f.conds)-1].active
}

// significant records that something other than the guard itself was seen.
func (f *ppFile) significant() {
	if f.guardClosed {
		f.sigAfter = true
	} else if f.guard == "" {
		f.sigBefore = true
	}
}

// ppHooks are how the preprocessor tells the parser about the
// directives that affect repository ids, at the point in the token
// stream where they occur.
type ppHooks struct {
	pragma    func(p srcPos, kind, name, arg string) error
	fileBegin func(p srcPos)
	fileEnd   func(p srcPos) error
}

// preproc is the preprocessor: it runs the scanner over the include
// stack, interprets directives, skips inactive conditional groups and
// expands object-like macros, handing the parser a plain token stream.
type preproc struct {
	fsys     fs.FS
	incPaths []string
	stack    []*ppFile
	macros   map[string]*macro
	once     map[string]bool
	guards   map[string]string
	cache    map[string][]byte
	includes int
	pending  []token
	hooks    ppHooks
	last     srcPos
}

func newPreproc(opts *Options) (*preproc, error) {
	pp := &preproc{
		macros: map[string]*macro{},
		once:   map[string]bool{},
		guards: map[string]string{},
		cache:  map[string][]byte{},
	}
	if opts != nil {
		pp.fsys = opts.FS
		pp.incPaths = opts.IncludePaths
		for _, d := range opts.Defines {
			name, body, _ := strings.Cut(d, "=")
			if !validMacroName(name) {
				return nil, fmt.Errorf("%w: bad macro definition %q", ErrPreprocessor, d)
			}
			if !strings.Contains(d, "=") {
				body = "1"
			}
			pp.macros[name] = &macro{body: body}
		}
	}
	return pp, nil
}

func validMacroName(s string) bool {
	if s == "" || !(lexLetter(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !(lexLetter(s[i]) || lexDigit(s[i]) || s[i] == '_') {
			return false
		}
	}
	return true
}

// push starts reading a file.
func (pp *preproc) push(name, key, dir string, src []byte) {
	pp.stack = append(pp.stack, &ppFile{sc: newScanner(name, src), key: key, dir: dir})
}

// next returns the next token for the parser.
func (pp *preproc) next() (token, error) {
	if len(pp.pending) > 0 {
		t := pp.pending[0]
		pp.pending = pp.pending[1:]
		return t, nil
	}
	for {
		if len(pp.stack) == 0 {
			return token{kind: tEOF, pos: pp.last}, nil
		}
		f := pp.stack[len(pp.stack)-1]
		if !f.active() {
			found, err := f.sc.skipGroup()
			if err != nil {
				return token{}, err
			}
			if !found {
				c := f.conds[len(f.conds)-1]
				return token{}, errAt(c.pos, ErrPreprocessor, "#if/#ifdef/#ifndef without #endif")
			}
			if err := pp.directive(f); err != nil {
				return token{}, err
			}
			continue
		}
		if err := f.sc.skipSpace(); err != nil {
			return token{}, err
		}
		if f.sc.atDirective() {
			if err := pp.directive(f); err != nil {
				return token{}, err
			}
			continue
		}
		if f.sc.eof() {
			if len(f.conds) > 0 {
				c := f.conds[len(f.conds)-1]
				return token{}, errAt(c.pos, ErrPreprocessor, "#if/#ifdef/#ifndef without #endif")
			}
			if f.guard != "" && f.guardClosed && !f.sigAfter {
				pp.guards[f.key] = f.guard
			}
			pp.last = f.sc.pos()
			pp.stack = pp.stack[:len(pp.stack)-1]
			if len(pp.stack) > 0 && pp.hooks.fileEnd != nil {
				if err := pp.hooks.fileEnd(pp.last); err != nil {
					return token{}, err
				}
			}
			continue
		}
		t, err := f.sc.scanToken()
		if err != nil {
			return token{}, err
		}
		f.significant()
		if t.kind == tIdent && !t.escaped {
			if m := pp.macros[t.text]; m != nil {
				budget := maxMacroTokens
				toks, err := pp.expand(t, nil, 0, &budget)
				if err != nil {
					return token{}, err
				}
				if len(toks) == 0 {
					continue
				}
				pp.pending = append(pp.pending, toks[1:]...)
				return toks[0], nil
			}
		}
		return t, nil
	}
}

// expand expands a use of an object-like macro. Tokens take the position
// of the use, which is where an error in them is best reported. hide
// holds the macros being expanded, which are not expanded again (as in
// C), so "#define A A" terminates.
func (pp *preproc) expand(use token, hide []string, depth int, budget *int) ([]token, error) {
	m := pp.macros[use.text]
	if m.funcLike {
		return nil, errAt(use.pos, ErrUnsupported, "function-like macro %s is not supported", use.text)
	}
	if depth > maxMacroDepth {
		return nil, errAt(use.pos, ErrTooDeep, "macro %s nests more than %d expansions deep", use.text, maxMacroDepth)
	}
	hide = append(hide, use.text)
	sc := newScanner(use.pos.file, []byte(m.body))
	var out []token
	for {
		if err := sc.skipSpace(); err != nil {
			return nil, err
		}
		if sc.eof() {
			return out, nil
		}
		t, err := sc.scanToken()
		if err != nil {
			return nil, errAt(use.pos, ErrSyntax, "in expansion of macro %s: %s", use.text, err.(*SyntaxError).Msg)
		}
		t.pos = use.pos
		if t.kind == tIdent && !t.escaped && pp.macros[t.text] != nil && !containsStr(hide, t.text) {
			sub, err := pp.expand(t, hide, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		} else {
			out = append(out, t)
			*budget--
		}
		// The budget is shared by the whole expansion, so a macro whose
		// expansion doubles at each level fails after maxMacroTokens
		// tokens, not after computing an exponential tree.
		if *budget < 0 {
			return nil, errAt(use.pos, ErrTooDeep, "expansion of macro %s exceeds %d tokens", use.text, maxMacroTokens)
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// directive reads and interprets the directive at the current position.
func (pp *preproc) directive(f *ppFile) error {
	text, p, err := f.sc.readDirective()
	if err != nil {
		return err
	}
	rest := strings.TrimLeft(text, " \t\r\f\v")
	name := rest
	for i := 0; i < len(rest); i++ {
		if !(lexLetter(rest[i]) || lexDigit(rest[i]) || rest[i] == '_') {
			name = rest[:i]
			break
		}
	}
	rest = strings.TrimSpace(rest[len(name):])
	active := f.active()

	// Conditionals are tracked even in skipped groups so that nesting
	// stays right.
	switch name {
	case "if", "ifdef", "ifndef":
		if !active {
			f.conds = append(f.conds, ppCond{active: false, taken: true, pos: p})
			return nil
		}
		var v bool
		guard := ""
		switch name {
		case "if":
			if v, err = pp.evalIf(rest, p); err != nil {
				return err
			}
			guard = notDefinedName(rest)
		case "ifdef", "ifndef":
			id, err := directiveName(rest, p, name)
			if err != nil {
				return err
			}
			_, v = pp.macros[id]
			if name == "ifndef" {
				v = !v
				guard = id
			}
		}
		if guard != "" && len(f.conds) == 0 && !f.sigBefore && f.guard == "" {
			f.guard = guard
		} else {
			f.significant()
		}
		f.conds = append(f.conds, ppCond{active: v, taken: v, pos: p})
		return nil
	case "elif", "else":
		if len(f.conds) == 0 {
			return errAt(p, ErrPreprocessor, "#%s without #if", name)
		}
		c := &f.conds[len(f.conds)-1]
		if c.sawElse {
			return errAt(p, ErrPreprocessor, "#%s after #else", name)
		}
		if len(f.conds) == 1 {
			// An #else at the outermost level means the file is not
			// simply guarded.
			f.guard = ""
			f.sigBefore = true
		}
		if name == "else" {
			c.sawElse = true
			c.active = !c.taken
			c.taken = true
			return nil
		}
		if c.taken {
			c.active = false
			return nil
		}
		v, err := pp.evalIf(rest, p)
		if err != nil {
			return err
		}
		c.active, c.taken = v, v
		return nil
	case "endif":
		if len(f.conds) == 0 {
			return errAt(p, ErrPreprocessor, "#endif without #if")
		}
		f.conds = f.conds[:len(f.conds)-1]
		if len(f.conds) == 0 && f.guard != "" && !f.guardClosed {
			f.guardClosed = true
		}
		return nil
	}
	if !active {
		return nil
	}
	f.significant()
	switch name {
	case "":
		return nil // the null directive
	case "define":
		id, body := splitName(rest)
		if !validMacroName(id) {
			return errAt(p, ErrPreprocessor, "#define needs a macro name, found %q", rest)
		}
		m := &macro{body: strings.TrimSpace(body)}
		if strings.HasPrefix(body, "(") {
			m.funcLike = true
		}
		pp.macros[id] = m
		return nil
	case "undef":
		id, err := directiveName(rest, p, name)
		if err != nil {
			return err
		}
		delete(pp.macros, id)
		return nil
	case "include":
		return pp.include(f, rest, p)
	case "pragma":
		return pp.pragma(rest, p)
	case "error":
		return errAt(p, ErrPreprocessor, "#error %s", rest)
	case "warning", "line", "ident", "sccs":
		return nil
	}
	return errAt(p, ErrPreprocessor, "unknown preprocessor directive #%s", name)
}

// splitName splits "NAME rest" after #define; the body of a
// function-like macro starts with '(' right after the name.
func splitName(s string) (string, string) {
	i := 0
	for i < len(s) && (lexLetter(s[i]) || lexDigit(s[i]) || s[i] == '_') {
		i++
	}
	return s[:i], s[i:]
}

func directiveName(rest string, p srcPos, directive string) (string, error) {
	id, tail := splitName(rest)
	if !validMacroName(id) || strings.TrimSpace(tail) != "" {
		return "", errAt(p, ErrPreprocessor, "#%s needs one macro name, found %q", directive, rest)
	}
	return id, nil
}

// notDefinedName recognises the guard form "#if !defined(NAME)".
func notDefinedName(expr string) string {
	s := strings.ReplaceAll(expr, " ", "")
	s = strings.ReplaceAll(s, "\t", "")
	if !strings.HasPrefix(s, "!defined") {
		return ""
	}
	s = strings.TrimPrefix(s, "!defined")
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = s[1 : len(s)-1]
	}
	if validMacroName(s) {
		return s
	}
	return ""
}

// include handles #include "file" and #include <file>.
func (pp *preproc) include(f *ppFile, rest string, p srcPos) error {
	var name string
	var quoted bool
	switch {
	case strings.HasPrefix(rest, `"`):
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return errAt(p, ErrPreprocessor, `#include file name lacks its closing '"'`)
		}
		name, quoted = rest[1:1+end], true
	case strings.HasPrefix(rest, "<"):
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return errAt(p, ErrPreprocessor, "#include file name lacks its closing '>'")
		}
		name = rest[1:end]
	default:
		return errAt(p, ErrPreprocessor, `#include expects "file" or <file>, found %q`, rest)
	}
	if name == "" {
		return errAt(p, ErrPreprocessor, "#include of an empty file name")
	}
	if len(pp.stack) >= maxIncludeDepth {
		return errAt(p, ErrTooDeep, "#include %q nests more than %d files deep", name, maxIncludeDepth)
	}
	pp.includes++
	if pp.includes > maxIncludes {
		return errAt(p, ErrInclude, "more than %d #includes in one load", maxIncludes)
	}
	var dirs []string
	if quoted {
		// Quoted includes look beside the including file first, as C
		// preprocessors do.
		dirs = append(dirs, f.dir)
	}
	dirs = append(dirs, pp.incPaths...)
	key, src, err := pp.find(name, dirs)
	if err != nil {
		return errAt(p, ErrInclude, "#include %q: %v", name, err)
	}
	if pp.once[key] {
		return nil
	}
	if g, ok := pp.guards[key]; ok && pp.macros[g] != nil {
		return nil
	}
	n := 0
	for _, g := range pp.stack {
		if g.key == key {
			n++
		}
	}
	// A file may appear on the stack twice: a guarded file that includes
	// itself comes back once and finds its guard defined. A third time
	// means nothing stops the recursion.
	if n >= 2 {
		chain := make([]string, 0, len(pp.stack)+1)
		for _, g := range pp.stack {
			chain = append(chain, g.sc.file)
		}
		chain = append(chain, key)
		return errAt(p, ErrIncludeCycle, "recursive #include of %s without include guard: %s", name, strings.Join(chain, " -> "))
	}
	dir := filepath.Dir(key)
	if pp.fsys != nil {
		dir = path.Dir(key)
	}
	pp.push(key, key, dir, src)
	if pp.hooks.fileBegin != nil {
		pp.hooks.fileBegin(p)
	}
	return nil
}

// find looks name up in dirs and reads it.
func (pp *preproc) find(name string, dirs []string) (string, []byte, error) {
	var candidates []string
	if pp.fsys != nil {
		if path.IsAbs(name) {
			candidates = []string{path.Clean(strings.TrimPrefix(name, "/"))}
		} else {
			for _, d := range dirs {
				candidates = append(candidates, path.Join(d, name))
			}
		}
	} else {
		if filepath.IsAbs(name) {
			candidates = []string{filepath.Clean(name)}
		} else {
			for _, d := range dirs {
				candidates = append(candidates, filepath.Join(d, name))
			}
		}
	}
	var firstErr error
	for _, c := range candidates {
		src, err := pp.read(c)
		if err == nil {
			return c, src, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", nil, firstErr
	}
	return "", nil, fmt.Errorf("not found in %s", strings.Join(quoteAll(dirs), ", "))
}

func quoteAll(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = strconv.Quote(d)
	}
	if len(out) == 0 {
		return []string{"(no include paths)"}
	}
	return out
}

// read reads an included file, once per load.
func (pp *preproc) read(name string) ([]byte, error) {
	if src, ok := pp.cache[name]; ok {
		return src, nil
	}
	src, err := readSource(pp.fsys, name)
	if err != nil {
		return nil, err
	}
	pp.cache[name] = src
	return src, nil
}

// readSource reads a regular file of bounded size from fsys, or from the
// operating system when fsys is nil. Anything else (a device, a FIFO, a
// directory) is refused: including /dev/zero would never end.
func readSource(fsys fs.FS, name string) ([]byte, error) {
	var fi fs.FileInfo
	var err error
	if fsys != nil {
		if !fs.ValidPath(name) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		fi, err = fs.Stat(fsys, name)
	} else {
		fi, err = os.Stat(name)
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	var src []byte
	if fsys != nil {
		src, err = fs.ReadFile(fsys, name)
	} else {
		src, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	if len(src) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	return src, nil
}

// pragma handles #pragma prefix, ID, version and once; other pragmas
// (omniORB's "hh", javaPackage, ...) are ignored as CORBA requires
// (§10.7.5: compilers must not refuse unknown pragmas).
func (pp *preproc) pragma(rest string, p srcPos) error {
	kind, arg := splitName(rest)
	arg = strings.TrimSpace(arg)
	switch kind {
	case "once":
		pp.once[pp.stack[len(pp.stack)-1].key] = true
		return nil
	case "prefix":
		s, tail, err := pragmaString(arg, p)
		if err != nil {
			return err
		}
		if strings.TrimSpace(tail) != "" {
			return errAt(p, ErrPreprocessor, "#pragma prefix: unexpected %q after the prefix", tail)
		}
		return pp.callPragma(p, kind, "", s)
	case "ID", "id":
		name, tail := splitScopedName(arg)
		if name == "" {
			return errAt(p, ErrPreprocessor, `#pragma ID expects a name and "id", found %q`, arg)
		}
		s, tail, err := pragmaString(strings.TrimSpace(tail), p)
		if err != nil {
			return err
		}
		if strings.TrimSpace(tail) != "" {
			return errAt(p, ErrPreprocessor, "#pragma ID: unexpected %q after the id", tail)
		}
		return pp.callPragma(p, "ID", name, s)
	case "version":
		name, tail := splitScopedName(arg)
		v := strings.TrimSpace(tail)
		major, minor, ok := strings.Cut(v, ".")
		if name == "" || !ok || !allDigits(major) || !allDigits(minor) {
			return errAt(p, ErrPreprocessor, "#pragma version expects a name and major.minor, found %q", arg)
		}
		return pp.callPragma(p, kind, name, v)
	}
	return nil
}

func (pp *preproc) callPragma(p srcPos, kind, name, arg string) error {
	if pp.hooks.pragma == nil {
		return nil
	}
	return pp.hooks.pragma(p, kind, name, arg)
}

func allDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lexDigit(s[i]) {
			return false
		}
	}
	return true
}

// splitScopedName splits a leading scoped name (A::B, ::A) off s.
func splitScopedName(s string) (string, string) {
	i := 0
	for i < len(s) && (lexLetter(s[i]) || lexDigit(s[i]) || s[i] == '_' || s[i] == ':') {
		i++
	}
	return s[:i], s[i:]
}

// pragmaString decodes the string literal at the start of s.
func pragmaString(s string, p srcPos) (string, string, error) {
	sc := newScanner(p.file, []byte(s))
	sc.line, sc.col = p.line, p.col
	if sc.eof() || s[0] != '"' {
		return "", "", errAt(p, ErrPreprocessor, "#pragma expects a string literal, found %q", s)
	}
	t, err := sc.scanToken()
	if err != nil {
		return "", "", err
	}
	return t.str, s[sc.off:], nil
}

// evalIf evaluates the expression of #if or #elif.
func (pp *preproc) evalIf(expr string, p srcPos) (bool, error) {
	e := &ppExpr{pp: pp, p: p}
	if err := e.load(expr); err != nil {
		return false, err
	}
	if len(e.toks) == 0 {
		return false, errAt(p, ErrPreprocessor, "#if with no expression")
	}
	v, err := e.cond(0)
	if err != nil {
		return false, err
	}
	if e.i < len(e.toks) {
		return false, errAt(p, ErrPreprocessor, "#if: unexpected %s", e.toks[e.i].describe())
	}
	return v != 0, nil
}

// ppExpr evaluates C preprocessor expressions in int64: defined,
// integer and character literals, macros (expanded recursively; unknown
// identifiers are 0), and the C operators.
type ppExpr struct {
	pp   *preproc
	p    srcPos
	toks []token
	i    int
}

func (e *ppExpr) load(expr string) error {
	sc := newScanner(e.p.file, []byte(expr))
	sc.line, sc.col = e.p.line, e.p.col
	sc.pp = true
	for {
		if err := sc.skipSpace(); err != nil {
			return err
		}
		if sc.eof() {
			return nil
		}
		t, err := sc.scanToken()
		if err != nil {
			return err
		}
		e.toks = append(e.toks, t)
		if len(e.toks) > maxMacroTokens {
			return errAt(e.p, ErrTooDeep, "#if expression too long")
		}
	}
}

func (e *ppExpr) peek() token {
	if e.i < len(e.toks) {
		return e.toks[e.i]
	}
	return token{kind: tEOF, pos: e.p}
}

func (e *ppExpr) isOp(op string) bool {
	t := e.peek()
	return t.kind == tPunct && t.text == op
}

func (e *ppExpr) fail(format string, args ...any) error {
	return errAt(e.p, ErrPreprocessor, "#if: "+format, args...)
}

// ppBinary lists the binary operators by precedence, loosest first.
var ppBinary = [][]string{
	{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<", ">", "<=", ">="},
	{"<<", ">>"}, {"+", "-"}, {"*", "/", "%"},
}

func (e *ppExpr) cond(depth int) (int64, error) {
	if depth > maxMacroDepth {
		return 0, errAt(e.p, ErrTooDeep, "#if expression nested too deep")
	}
	c, err := e.binary(0, depth)
	if err != nil || !e.isOp("?") {
		return c, err
	}
	e.i++
	a, err := e.cond(depth + 1)
	if err != nil {
		return 0, err
	}
	if !e.isOp(":") {
		return 0, e.fail("expected ':' in ?:, found %s", e.peek().describe())
	}
	e.i++
	b, err := e.cond(depth + 1)
	if err != nil {
		return 0, err
	}
	if c != 0 {
		return a, nil
	}
	return b, nil
}

func (e *ppExpr) binary(level, depth int) (int64, error) {
	if level == len(ppBinary) {
		return e.unary(depth)
	}
	x, err := e.binary(level+1, depth)
	if err != nil {
		return 0, err
	}
	for {
		t := e.peek()
		if t.kind != tPunct || !containsStr(ppBinary[level], t.text) {
			return x, nil
		}
		e.i++
		y, err := e.binary(level+1, depth)
		if err != nil {
			return 0, err
		}
		switch t.text {
		case "||":
			x = b2i(x != 0 || y != 0)
		case "&&":
			x = b2i(x != 0 && y != 0)
		case "|":
			x |= y
		case "^":
			x ^= y
		case "&":
			x &= y
		case "==":
			x = b2i(x == y)
		case "!=":
			x = b2i(x != y)
		case "<":
			x = b2i(x < y)
		case ">":
			x = b2i(x > y)
		case "<=":
			x = b2i(x <= y)
		case ">=":
			x = b2i(x >= y)
		case "<<":
			x <<= uint64(y) & 63
		case ">>":
			x >>= uint64(y) & 63
		case "+":
			x += y
		case "-":
			x -= y
		case "*":
			x *= y
		case "/", "%":
			if y == 0 {
				return 0, e.fail("division by zero")
			}
			if y == -1 {
				// Avoid the MinInt64 / -1 trap.
				if t.text == "/" {
					x = -x
				} else {
					x = 0
				}
			} else if t.text == "/" {
				x /= y
			} else {
				x %= y
			}
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (e *ppExpr) unary(depth int) (int64, error) {
	if depth > maxMacroDepth {
		return 0, errAt(e.p, ErrTooDeep, "#if expression nested too deep")
	}
	t := e.peek()
	if t.kind == tPunct {
		switch t.text {
		case "!", "~", "-", "+":
			e.i++
			v, err := e.unary(depth + 1)
			if err != nil {
				return 0, err
			}
			switch t.text {
			case "!":
				return b2i(v == 0), nil
			case "~":
				return ^v, nil
			case "-":
				return -v, nil
			}
			return v, nil
		case "(":
			e.i++
			v, err := e.cond(depth + 1)
			if err != nil {
				return 0, err
			}
			if !e.isOp(")") {
				return 0, e.fail("expected ')', found %s", e.peek().describe())
			}
			e.i++
			return v, nil
		}
	}
	e.i++
	switch t.kind {
	case tInt:
		s := strings.TrimRight(t.text, "uUlL")
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return 0, e.fail("bad integer %s", t.text)
		}
		return int64(v), nil
	case tChar:
		return int64(t.ch), nil
	case tIdent:
		name := t.text
		if t.escaped {
			name = "_" + name
		}
		if name == "defined" {
			paren := e.isOp("(")
			if paren {
				e.i++
			}
			id := e.peek()
			if id.kind != tIdent {
				return 0, e.fail("defined needs a macro name, found %s", id.describe())
			}
			e.i++
			if paren {
				if !e.isOp(")") {
					return 0, e.fail("expected ')' after defined(%s, found %s", id.text, e.peek().describe())
				}
				e.i++
			}
			mn := id.text
			if id.escaped {
				mn = "_" + mn
			}
			return b2i(e.pp.macros[mn] != nil), nil
		}
		m := e.pp.macros[name]
		if m == nil || m.funcLike || strings.TrimSpace(m.body) == "" {
			// C: identifiers that are not macros evaluate to 0.
			return 0, nil
		}
		sub := &ppExpr{pp: e.pp, p: e.p}
		if err := sub.load(m.body); err != nil {
			return 0, err
		}
		v, err := sub.cond(depth + 1)
		if err != nil {
			return 0, err
		}
		if sub.i < len(sub.toks) {
			return 0, e.fail("macro %s does not expand to an expression", name)
		}
		return v, nil
	case tEOF:
		return 0, e.fail("expression ends too early")
	}
	return 0, e.fail("unexpected %s", t.describe())
}
