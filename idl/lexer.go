package idl

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// srcPos is a position in a source file: 1-based line and byte column.
type srcPos struct {
	file      string
	line, col int
}

// String formats the position as "file:line:col".
func (p srcPos) String() string { return fmt.Sprintf("%s:%d:%d", p.file, p.line, p.col) }

// errAt builds the positional error every stage of the parser reports.
func errAt(p srcPos, sentinel error, format string, args ...any) *SyntaxError {
	return &SyntaxError{File: p.file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tFloat
	tFixed
	tChar
	tWChar
	tString
	tWString
	tPunct
)

// token is one lexical token. Literals keep their source text (for error
// messages and exact numeric parsing) and, for strings and characters,
// their decoded value.
type token struct {
	kind tokKind
	// text is the identifier (without an escaping '_'), the punctuation,
	// or the literal as written.
	text string
	// str is the decoded value of a string literal.
	str string
	// ch is the decoded value of a character literal.
	ch rune
	// escaped marks an identifier written with a leading '_', which
	// is never a keyword (CORBA 3.0 §7.2.3.1).
	escaped bool
	pos     srcPos
}

// describe names the token for "expected X, found Y" messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tIdent:
		if !t.escaped && hardKeywords[t.text] {
			return fmt.Sprintf("keyword %q", t.text)
		}
		return fmt.Sprintf("identifier %q", t.text)
	case tInt:
		return "integer literal " + t.text
	case tFloat:
		return "floating-point literal " + t.text
	case tFixed:
		return "fixed-point literal " + t.text
	case tChar, tWChar:
		return "character literal " + t.text
	case tString, tWString:
		return "string literal " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// hardKeywords are the IDL keywords of CORBA 2.x (including the 2.3/2.4
// value type and local interface keywords). The CORBA 3 component
// keywords (component, home, import, typeid, getraises, ...) are treated
// as keywords only where their construct can start, because IDL files
// written before CORBA 3, such as some OMG service IDL, use several of
// them as ordinary identifiers.
var hardKeywords = map[string]bool{
	"abstract": true, "any": true, "attribute": true, "boolean": true, "case": true,
	"char": true, "const": true, "context": true, "custom": true, "default": true,
	"double": true, "enum": true, "exception": true, "factory": true, "FALSE": true,
	"fixed": true, "float": true, "in": true, "inout": true, "interface": true,
	"local": true, "long": true, "module": true, "native": true, "Object": true,
	"octet": true, "oneway": true, "out": true, "private": true, "public": true,
	"raises": true, "readonly": true, "sequence": true, "short": true, "string": true,
	"struct": true, "supports": true, "switch": true, "TRUE": true, "truncatable": true,
	"typedef": true, "unsigned": true, "union": true, "ValueBase": true, "valuetype": true,
	"void": true, "wchar": true, "wstring": true,
}

// scanner turns one source buffer into tokens. It knows where lines
// start so the preprocessor can recognise directives, but directives
// themselves are interpreted by the preprocessor.
type scanner struct {
	file      string
	src       []byte
	off       int
	line, col int
	// bol is true while only white space and comments have been seen on
	// the current line, i.e. a '#' here starts a directive.
	bol bool
	// pp switches on the extra operators of #if expressions.
	pp bool
}

func newScanner(file string, src []byte) *scanner {
	return &scanner{file: file, src: src, line: 1, col: 1, bol: true}
}

func (s *scanner) pos() srcPos { return srcPos{s.file, s.line, s.col} }

func (s *scanner) eof() bool { return s.off >= len(s.src) }

func (s *scanner) peekAt(n int) byte {
	if s.off+n < len(s.src) {
		return s.src[s.off+n]
	}
	return 0
}

// adv moves past one byte, keeping line and column right.
func (s *scanner) adv() {
	if s.src[s.off] == '\n' {
		s.line++
		s.col = 1
		s.bol = true
	} else {
		s.col++
	}
	s.off++
}

// skipSpace skips white space and comments.
func (s *scanner) skipSpace() error {
	for !s.eof() {
		c := s.src[s.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			s.adv()
		case c == '/' && s.peekAt(1) == '/':
			for !s.eof() && s.src[s.off] != '\n' {
				s.adv()
			}
		case c == '/' && s.peekAt(1) == '*':
			if err := s.skipBlockComment(); err != nil {
				return err
			}
		case c == '\\' && (s.peekAt(1) == '\n' || s.peekAt(1) == '\r' && s.peekAt(2) == '\n'):
			// A line splice outside a directive joins lines; it is white
			// space for our purposes.
			s.adv()
		default:
			return nil
		}
	}
	return nil
}

func (s *scanner) skipBlockComment() error {
	start := s.pos()
	bol := s.bol
	s.adv()
	s.adv()
	for !s.eof() {
		if s.src[s.off] == '*' && s.peekAt(1) == '/' {
			s.adv()
			s.adv()
			// A comment is one space: it neither starts nor ends a line.
			if s.bol && !bol {
				s.bol = false
			}
			return nil
		}
		s.adv()
	}
	return errAt(start, ErrSyntax, "unterminated comment")
}

// atDirective reports whether the next character starts a directive.
func (s *scanner) atDirective() bool {
	return s.bol && !s.eof() && s.src[s.off] == '#'
}

// readDirective reads a directive line (the '#' is at the current
// position) and returns its text without the '#', with comments replaced
// by spaces and line splices joined.
func (s *scanner) readDirective() (string, srcPos, error) {
	p := s.pos()
	s.adv() // '#'
	var b strings.Builder
	for !s.eof() {
		c := s.src[s.off]
		switch {
		case c == '\n':
			s.adv()
			return b.String(), p, nil
		case c == '\\' && s.peekAt(1) == '\n':
			s.adv()
			s.adv()
		case c == '\\' && s.peekAt(1) == '\r' && s.peekAt(2) == '\n':
			s.adv()
			s.adv()
			s.adv()
		case c == '/' && s.peekAt(1) == '/':
			for !s.eof() && s.src[s.off] != '\n' {
				s.adv()
			}
		case c == '/' && s.peekAt(1) == '*':
			if err := s.skipBlockComment(); err != nil {
				return "", p, err
			}
			b.WriteByte(' ')
		case c == '"' || c == '\'':
			// Copy quoted text verbatim so a "//" inside a string is not a
			// comment.
			q := c
			b.WriteByte(c)
			s.adv()
			for !s.eof() && s.src[s.off] != '\n' {
				c := s.src[s.off]
				b.WriteByte(c)
				s.adv()
				if c == '\\' && !s.eof() && s.src[s.off] != '\n' {
					b.WriteByte(s.src[s.off])
					s.adv()
				} else if c == q {
					break
				}
			}
		default:
			b.WriteByte(c)
			s.adv()
		}
	}
	return b.String(), p, nil
}

// skipGroup skips source in a conditional group that is not being
// compiled, up to the next directive. It reports false at end of input.
func (s *scanner) skipGroup() (bool, error) {
	for !s.eof() {
		c := s.src[s.off]
		switch {
		case c == '#' && s.bol:
			return true, nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			s.adv()
		case c == '/' && s.peekAt(1) == '*':
			if err := s.skipBlockComment(); err != nil {
				return false, err
			}
		case c == '/' && s.peekAt(1) == '/':
			for !s.eof() && s.src[s.off] != '\n' {
				s.adv()
			}
		case c == '"' || c == '\'':
			// Skipped text need not be valid IDL, but a quoted "/*" must
			// not start a comment; an unterminated quote ends at the line.
			s.bol = false
			s.adv()
			for !s.eof() && s.src[s.off] != '\n' && s.src[s.off] != c {
				if s.src[s.off] == '\\' && s.peekAt(1) != '\n' && s.peekAt(1) != 0 {
					s.adv()
				}
				s.adv()
			}
			if !s.eof() && s.src[s.off] == c {
				s.adv()
			}
		default:
			s.bol = false
			s.adv()
		}
	}
	return false, nil
}

func lexLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func lexDigit(c byte) bool  { return c >= '0' && c <= '9' }
func lexHex(c byte) bool    { return lexDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scanToken scans the token at the current position; white space has
// been skipped and the input is not at its end.
func (s *scanner) scanToken() (token, error) {
	p := s.pos()
	s.bol = false
	c := s.src[s.off]
	switch {
	case c == 'L' && (s.peekAt(1) == '\'' || s.peekAt(1) == '"'):
		s.adv()
		t, err := s.scanQuoted(p, true)
		return t, err
	case lexLetter(c) || c == '_':
		start := s.off
		for !s.eof() && (lexLetter(s.src[s.off]) || lexDigit(s.src[s.off]) || s.src[s.off] == '_') {
			s.adv()
		}
		text := string(s.src[start:s.off])
		if text[0] == '_' && !s.pp {
			if len(text) == 1 || !lexLetter(text[1]) {
				return token{}, errAt(p, ErrSyntax, "malformed identifier %q", text)
			}
			return token{kind: tIdent, text: text[1:], escaped: true, pos: p}, nil
		}
		return token{kind: tIdent, text: text, pos: p}, nil
	case lexDigit(c) || c == '.' && lexDigit(s.peekAt(1)):
		return s.scanNumber(p)
	case c == '\'' || c == '"':
		return s.scanQuoted(p, false)
	}
	two := ""
	if s.off+1 < len(s.src) {
		two = string(s.src[s.off : s.off+2])
	}
	switch two {
	case "::", "<<", ">>":
		s.adv()
		s.adv()
		return token{kind: tPunct, text: two, pos: p}, nil
	case "&&", "||", "==", "!=", "<=", ">=":
		if s.pp {
			s.adv()
			s.adv()
			return token{kind: tPunct, text: two, pos: p}, nil
		}
	}
	if strings.IndexByte(";{}()<>,:=|^&+-*/%~[]", c) >= 0 || s.pp && (c == '!' || c == '?') {
		s.adv()
		return token{kind: tPunct, text: string(c), pos: p}, nil
	}
	r, _ := utf8.DecodeRune(s.src[s.off:])
	return token{}, errAt(p, ErrSyntax, "unexpected character %q", r)
}

// scanNumber scans integer, floating-point and fixed-point literals
// (CORBA 3.0 §7.2.5). Their values are parsed where they are used.
func (s *scanner) scanNumber(p srcPos) (token, error) {
	start := s.off
	kind := tInt
	if s.src[s.off] == '0' && (s.peekAt(1) == 'x' || s.peekAt(1) == 'X') {
		s.adv()
		s.adv()
		if s.eof() || !lexHex(s.src[s.off]) {
			return token{}, errAt(p, ErrSyntax, "malformed hexadecimal literal")
		}
		for !s.eof() && lexHex(s.src[s.off]) {
			s.adv()
		}
	} else {
		for !s.eof() && lexDigit(s.src[s.off]) {
			s.adv()
		}
		if !s.eof() && s.src[s.off] == '.' {
			kind = tFloat
			s.adv()
			for !s.eof() && lexDigit(s.src[s.off]) {
				s.adv()
			}
		}
		if !s.eof() && (s.src[s.off] == 'e' || s.src[s.off] == 'E') {
			kind = tFloat
			s.adv()
			if !s.eof() && (s.src[s.off] == '+' || s.src[s.off] == '-') {
				s.adv()
			}
			if s.eof() || !lexDigit(s.src[s.off]) {
				return token{}, errAt(p, ErrSyntax, "malformed exponent in %q", s.src[start:s.off])
			}
			for !s.eof() && lexDigit(s.src[s.off]) {
				s.adv()
			}
		} else if !s.eof() && (s.src[s.off] == 'd' || s.src[s.off] == 'D') {
			kind = tFixed
			s.adv()
		}
	}
	if s.pp {
		// C integer suffixes, as in "#if VERSION > 2L".
		for !s.eof() && strings.IndexByte("uUlL", s.src[s.off]) >= 0 {
			s.adv()
		}
	}
	text := string(s.src[start:s.off])
	if !s.eof() && (lexLetter(s.src[s.off]) || lexDigit(s.src[s.off]) || s.src[s.off] == '_') {
		return token{}, errAt(p, ErrSyntax, "malformed number %q", text+string(s.src[s.off]))
	}
	if kind == tInt && len(text) > 1 && text[0] == '0' && text[1] != 'x' && text[1] != 'X' && !s.pp {
		for i := 1; i < len(text); i++ {
			if text[i] > '7' {
				return token{}, errAt(p, ErrSyntax, "malformed octal literal %q", text)
			}
		}
	}
	return token{kind: kind, text: text, pos: p}, nil
}

// scanQuoted scans a character or string literal (the quote is current;
// for wide literals the 'L' has been consumed) and decodes its escapes.
func (s *scanner) scanQuoted(p srcPos, wide bool) (token, error) {
	q := s.src[s.off]
	start := s.off
	s.adv()
	var b strings.Builder
	n := 0
	var last rune
	for {
		if s.eof() || s.src[s.off] == '\n' {
			if q == '"' {
				return token{}, errAt(p, ErrSyntax, "unterminated string literal")
			}
			return token{}, errAt(p, ErrSyntax, "unterminated character literal")
		}
		c := s.src[s.off]
		if c == q {
			s.adv()
			break
		}
		var r rune
		if c == '\\' {
			var err error
			if r, err = s.escape(p, wide); err != nil {
				return token{}, err
			}
		} else {
			var size int
			r, size = utf8.DecodeRune(s.src[s.off:])
			if r == utf8.RuneError && size == 1 {
				// Not UTF-8: take the byte as ISO 8859-1, IDL's own
				// character set.
				r = rune(c)
			}
			for i := 0; i < size; i++ {
				s.adv()
			}
		}
		if r == 0 {
			return token{}, errAt(p, ErrSyntax, "literal contains a NUL character")
		}
		last = r
		n++
		b.WriteRune(r)
	}
	text := string(s.src[start:s.off])
	if wide {
		text = "L" + text
	}
	if q == '"' {
		kind := tString
		if wide {
			kind = tWString
		}
		return token{kind: kind, text: text, str: b.String(), pos: p}, nil
	}
	if n != 1 {
		return token{}, errAt(p, ErrSyntax, "character literal %s must hold exactly one character", text)
	}
	if !wide && last > 0xFF {
		return token{}, errAt(p, ErrSyntax, "character literal %s is not an ISO 8859-1 character (use a wide character L'…')", text)
	}
	kind := tChar
	if wide {
		kind = tWChar
	}
	return token{kind: kind, text: text, ch: last, pos: p}, nil
}

// escape decodes one escape sequence (CORBA 3.0 Table 7-9); the
// backslash is current.
func (s *scanner) escape(p srcPos, wide bool) (rune, error) {
	s.adv()
	if s.eof() {
		return 0, errAt(p, ErrSyntax, "unterminated literal")
	}
	c := s.src[s.off]
	s.adv()
	switch c {
	case 'n':
		return '\n', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case 'b':
		return '\b', nil
	case 'r':
		return '\r', nil
	case 'f':
		return '\f', nil
	case 'a':
		return '\a', nil
	case '\\', '?', '\'', '"':
		return rune(c), nil
	case 'x', 'u':
		maxDigits := 2
		if c == 'u' {
			maxDigits = 4
		}
		v, n := 0, 0
		for n < maxDigits && !s.eof() && lexHex(s.src[s.off]) {
			d := s.src[s.off]
			switch {
			case lexDigit(d):
				v = v*16 + int(d-'0')
			case d >= 'a':
				v = v*16 + int(d-'a'+10)
			default:
				v = v*16 + int(d-'A'+10)
			}
			n++
			s.adv()
		}
		if n == 0 {
			return 0, errAt(p, ErrSyntax, "\\%c escape without hexadecimal digits", c)
		}
		if c == 'u' && !wide {
			return 0, errAt(p, ErrSyntax, "\\u escape is only allowed in wide literals")
		}
		if v >= 0xD800 && v <= 0xDFFF {
			return 0, errAt(p, ErrSyntax, "\\u%04x is a surrogate, not a character", v)
		}
		return rune(v), nil
	}
	if c >= '0' && c <= '7' {
		v := int(c - '0')
		for n := 1; n < 3 && !s.eof() && s.src[s.off] >= '0' && s.src[s.off] <= '7'; n++ {
			v = v*8 + int(s.src[s.off]-'0')
			s.adv()
		}
		if v > 0xFF {
			return 0, errAt(p, ErrSyntax, "octal escape \\%o is larger than one octet", v)
		}
		return rune(v), nil
	}
	return 0, errAt(p, ErrSyntax, "unknown escape sequence \\%c", c)
}
