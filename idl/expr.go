package idl

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/requestagent/requestagent/giop"
)

// Constant expressions (CORBA 3.0 §7.9.2) are evaluated while parsing.
// Integers are computed exactly with big.Int and range-checked against
// the target type at the end, fixed-point values exactly with big.Rat.

type cvKind int

const (
	cvInt cvKind = iota
	cvFloat
	cvFixed
	cvChar
	cvWChar
	cvString
	cvWString
	cvBool
	cvEnum
)

// maxConstBits bounds intermediate integer results: nothing beyond
// unsigned long long is representable in IDL, and without a bound a
// chain of multiplications could grow without limit.
const maxConstBits = 128

// cval is the value of a constant expression.
type cval struct {
	kind cvKind
	i    *big.Int
	f    float64
	r    *big.Rat
	s    string
	c    rune
	b    bool
	enum *Type
	idx  int
	pos  srcPos
}

// String renders the value in IDL syntax for messages.
func (v cval) String() string {
	switch v.kind {
	case cvInt:
		return v.i.String()
	case cvFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case cvFixed:
		s, _, _ := fixedDecimal(v.r)
		return s + "d"
	case cvChar:
		return strconv.QuoteRuneToASCII(v.c)
	case cvWChar:
		return "L" + strconv.QuoteRuneToASCII(v.c)
	case cvString:
		return strconv.Quote(v.s)
	case cvWString:
		return "L" + strconv.Quote(v.s)
	case cvBool:
		if v.b {
			return "TRUE"
		}
		return "FALSE"
	}
	return v.enum.Enumerators[v.idx]
}

func (v cval) kindName() string {
	switch v.kind {
	case cvInt:
		return "integer"
	case cvFloat:
		return "floating-point value"
	case cvFixed:
		return "fixed-point value"
	case cvChar:
		return "character"
	case cvWChar:
		return "wide character"
	case cvString:
		return "string"
	case cvWString:
		return "wide string"
	case cvBool:
		return "boolean"
	}
	return "enumerator of " + v.enum.Name
}

func bigOf(x int64) *big.Int { return big.NewInt(x) }

func (p *parser) constExpr() cval { return p.orExpr() }

// binaryLevel parses a left-associative chain of the operators ops over
// operands parsed by sub.
func (p *parser) binaryLevel(sub func() cval, ops ...string) cval {
	x := sub()
	for {
		if p.tok.kind != tPunct || !containsStr(ops, p.tok.text) {
			return x
		}
		// Inside sequence<T, N> and string<N> a '>>' closes templates
		// unless parenthesised, as in C++11.
		if p.tok.text == ">>" && p.angle > 0 {
			return x
		}
		op := p.tok
		p.next()
		y := sub()
		x = p.binary(op, x, y)
	}
}

func (p *parser) orExpr() cval  { return p.binaryLevel(p.xorExpr, "|") }
func (p *parser) xorExpr() cval { return p.binaryLevel(p.andExpr, "^") }
func (p *parser) andExpr() cval { return p.binaryLevel(p.shiftExpr, "&") }
func (p *parser) shiftExpr() cval {
	return p.binaryLevel(p.addExpr, "<<", ">>")
}
func (p *parser) addExpr() cval  { return p.binaryLevel(p.multExpr, "+", "-") }
func (p *parser) multExpr() cval { return p.binaryLevel(p.unaryExpr, "*", "/", "%") }

func (p *parser) unaryExpr() cval {
	if p.isP("-") || p.isP("+") || p.isP("~") {
		op := p.tok
		p.enter(op.pos)
		p.next()
		v := p.unaryExpr()
		p.leave()
		v.pos = op.pos
		switch {
		case op.text == "+" && (v.kind == cvInt || v.kind == cvFloat || v.kind == cvFixed):
			return v
		case op.text == "-" && v.kind == cvInt:
			v.i = new(big.Int).Neg(v.i)
			return v
		case op.text == "-" && v.kind == cvFloat:
			v.f = -v.f
			return v
		case op.text == "-" && v.kind == cvFixed:
			v.r = new(big.Rat).Neg(v.r)
			return v
		case op.text == "~" && v.kind == cvInt:
			v.i = new(big.Int).Not(v.i)
			return v
		}
		p.failf(op.pos, ErrBadConst, "unary %s cannot be applied to a %s", op.text, v.kindName())
	}
	return p.primaryExpr()
}

func (p *parser) primaryExpr() cval {
	t := p.tok
	switch t.kind {
	case tInt:
		p.next()
		i, ok := new(big.Int).SetString(t.text, 0)
		if !ok {
			p.failf(t.pos, ErrBadConst, "malformed integer literal %s", t.text)
		}
		if i.BitLen() > 64 {
			p.failf(t.pos, ErrBadConst, "integer literal %s does not fit in 64 bits", t.text)
		}
		return cval{kind: cvInt, i: i, pos: t.pos}
	case tFloat:
		p.next()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			p.failf(t.pos, ErrBadConst, "floating-point literal %s is out of range", t.text)
		}
		return cval{kind: cvFloat, f: f, pos: t.pos}
	case tFixed:
		p.next()
		digits := t.text[:len(t.text)-1]
		r, ok := new(big.Rat).SetString(digits)
		if !ok {
			p.failf(t.pos, ErrBadConst, "malformed fixed-point literal %s", t.text)
		}
		if n := significantDigits(digits); n > 31 {
			p.failf(t.pos, ErrBadConst, "fixed-point literal %s has %d digits; at most 31 are allowed", t.text, n)
		}
		return cval{kind: cvFixed, r: r, pos: t.pos}
	case tChar:
		p.next()
		return cval{kind: cvChar, c: t.ch, pos: t.pos}
	case tWChar:
		p.next()
		return cval{kind: cvWChar, c: t.ch, pos: t.pos}
	case tString, tWString:
		return p.stringLiteral()
	case tPunct:
		if t.text == "(" {
			p.enter(t.pos)
			p.next()
			// Parentheses reopen shifts inside template brackets.
			saved := p.angle
			p.angle = 0
			v := p.constExpr()
			p.angle = saved
			p.expectP(")", "')' closing the parenthesised expression")
			p.leave()
			v.pos = t.pos
			return v
		}
		if t.text != "::" {
			break
		}
		fallthrough
	case tIdent:
		if p.isKw("TRUE") || p.isKw("FALSE") {
			p.next()
			return cval{kind: cvBool, b: t.text == "TRUE", pos: t.pos}
		}
		if t.kind == tIdent && !t.escaped && hardKeywords[t.text] {
			break
		}
		names, abs, at := p.scopedName("a constant name")
		d := p.resolve(names, abs, at)
		if d.kind != dConst || d.konst == nil {
			p.failf(at, ErrBadConst, "%s is a %s, not a constant", joinScoped(names, abs), d.kind)
		}
		v := constValue(d.konst)
		v.pos = at
		return v
	}
	p.expected("a constant expression")
	return cval{}
}

// stringLiteral parses adjacent string literals, which concatenate
// (CORBA 3.0 §7.2.5.4); narrow and wide literals do not mix.
func (p *parser) stringLiteral() cval {
	t := p.tok
	v := cval{kind: cvString, pos: t.pos}
	if t.kind == tWString {
		v.kind = cvWString
	}
	var b strings.Builder
	for p.tok.kind == tString || p.tok.kind == tWString {
		if (p.tok.kind == tWString) != (v.kind == cvWString) {
			p.failf(p.tok.pos, ErrBadConst, "cannot concatenate wide and narrow string literals")
		}
		b.WriteString(p.tok.str)
		if b.Len() > maxFileSize {
			p.failf(t.pos, ErrBadConst, "string literal too long")
		}
		p.next()
	}
	v.s = b.String()
	return v
}

func significantDigits(s string) int {
	s = strings.Replace(s, ".", "", 1)
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return 1
	}
	return len(s)
}

// constValue turns a declared constant back into an expression value.
// It goes by the constant's type, not the Go type of its value, because
// long and wchar are both int32 in Go.
func constValue(c *Const) cval {
	t := stripAlias(c.Type)
	switch t.Kind {
	case giop.TkChar:
		b, _ := c.Value.(byte)
		return cval{kind: cvChar, c: rune(b)}
	case giop.TkWChar:
		r, _ := c.Value.(rune)
		return cval{kind: cvWChar, c: r}
	case giop.TkEnum:
		name, _ := c.Value.(string)
		for i, e := range t.Enumerators {
			if e == name {
				return cval{kind: cvEnum, enum: t, idx: i}
			}
		}
	case giop.TkFixed:
		s, _ := c.Value.(string)
		if r, ok := new(big.Rat).SetString(s); ok {
			return cval{kind: cvFixed, r: r}
		}
	case giop.TkString:
		s, _ := c.Value.(string)
		return cval{kind: cvString, s: s}
	case giop.TkWString:
		s, _ := c.Value.(string)
		return cval{kind: cvWString, s: s}
	}
	switch v := c.Value.(type) {
	case int16:
		return cval{kind: cvInt, i: bigOf(int64(v))}
	case int32:
		return cval{kind: cvInt, i: bigOf(int64(v))}
	case int64:
		return cval{kind: cvInt, i: bigOf(v)}
	case uint16:
		return cval{kind: cvInt, i: bigOf(int64(v))}
	case uint32:
		return cval{kind: cvInt, i: bigOf(int64(v))}
	case uint64:
		return cval{kind: cvInt, i: new(big.Int).SetUint64(v)}
	case byte:
		return cval{kind: cvInt, i: bigOf(int64(v))}
	case float32:
		return cval{kind: cvFloat, f: float64(v)}
	case float64:
		return cval{kind: cvFloat, f: v}
	case bool:
		return cval{kind: cvBool, b: v}
	}
	return cval{kind: cvInt, i: bigOf(0)}
}

// binary applies a binary operator.
func (p *parser) binary(op token, x, y cval) cval {
	res := cval{kind: x.kind, pos: x.pos}
	switch {
	case x.kind == cvInt && y.kind == cvInt:
		z := new(big.Int)
		switch op.text {
		case "|":
			z.Or(x.i, y.i)
		case "^":
			z.Xor(x.i, y.i)
		case "&":
			z.And(x.i, y.i)
		case "<<", ">>":
			if y.i.Sign() < 0 || y.i.Cmp(bigOf(64)) >= 0 {
				p.failf(op.pos, ErrBadConst, "shift count %s is outside 0..63", y.i)
			}
			if op.text == "<<" {
				z.Lsh(x.i, uint(y.i.Uint64()))
			} else {
				z.Rsh(x.i, uint(y.i.Uint64()))
			}
		case "+":
			z.Add(x.i, y.i)
		case "-":
			z.Sub(x.i, y.i)
		case "*":
			z.Mul(x.i, y.i)
		case "/", "%":
			if y.i.Sign() == 0 {
				p.failf(op.pos, ErrBadConst, "division by zero")
			}
			// Quo and Rem truncate toward zero, as C and IDL do.
			if op.text == "/" {
				z.Quo(x.i, y.i)
			} else {
				z.Rem(x.i, y.i)
			}
		}
		if z.BitLen() > maxConstBits {
			p.failf(op.pos, ErrBadConst, "integer constant expression overflows")
		}
		res.i = z
		return res
	case (x.kind == cvFloat || x.kind == cvInt) && (y.kind == cvFloat || y.kind == cvInt) && (x.kind == cvFloat || y.kind == cvFloat):
		a, b := floatOf(x), floatOf(y)
		res.kind = cvFloat
		switch op.text {
		case "+":
			res.f = a + b
		case "-":
			res.f = a - b
		case "*":
			res.f = a * b
		case "/":
			if b == 0 {
				p.failf(op.pos, ErrBadConst, "division by zero")
			}
			res.f = a / b
		default:
			p.failf(op.pos, ErrBadConst, "operator %s cannot be applied to floating-point values", op.text)
		}
		if math.IsInf(res.f, 0) || math.IsNaN(res.f) {
			p.failf(op.pos, ErrBadConst, "floating-point constant expression overflows")
		}
		return res
	case (x.kind == cvFixed || x.kind == cvInt) && (y.kind == cvFixed || y.kind == cvInt):
		a, b := ratOf(x), ratOf(y)
		res.kind = cvFixed
		z := new(big.Rat)
		switch op.text {
		case "+":
			z.Add(a, b)
		case "-":
			z.Sub(a, b)
		case "*":
			z.Mul(a, b)
		case "/":
			if b.Sign() == 0 {
				p.failf(op.pos, ErrBadConst, "division by zero")
			}
			z.Quo(a, b)
		default:
			p.failf(op.pos, ErrBadConst, "operator %s cannot be applied to fixed-point values", op.text)
		}
		if z.Num().BitLen() > maxConstBits || z.Denom().BitLen() > maxConstBits {
			p.failf(op.pos, ErrBadConst, "fixed-point constant expression overflows 31 digits")
		}
		res.r = z
		return res
	}
	p.failf(op.pos, ErrBadConst, "operator %s cannot be applied to a %s and a %s", op.text, x.kindName(), y.kindName())
	return cval{}
}

func floatOf(v cval) float64 {
	if v.kind == cvFloat {
		return v.f
	}
	f, _ := new(big.Float).SetInt(v.i).Float64()
	return f
}

func ratOf(v cval) *big.Rat {
	if v.kind == cvFixed {
		return v.r
	}
	return new(big.Rat).SetInt(v.i)
}

// fixedDecimal renders a fixed-point value as a decimal string with the
// fewest fraction digits that represent it exactly, truncated to 31
// digits in all when it has no finite decimal expansion (1.0d/3).
func fixedDecimal(r *big.Rat) (string, int, int) {
	scale := 0
	ten := bigOf(10)
	num := new(big.Int).Abs(r.Num())
	den := r.Denom()
	intDigits := len(new(big.Int).Quo(num, den).String())
	if new(big.Int).Quo(num, den).Sign() == 0 {
		intDigits = 0
	}
	for scale = 0; scale+intDigits < 31; scale++ {
		m := new(big.Int).Mul(num, new(big.Int).Exp(ten, bigOf(int64(scale)), nil))
		if new(big.Int).Rem(m, den).Sign() == 0 {
			break
		}
	}
	// Truncate toward zero, as fixed-point arithmetic does.
	m := new(big.Int).Mul(num, new(big.Int).Exp(ten, bigOf(int64(scale)), nil))
	m.Quo(m, den)
	digitsStr := m.String()
	for len(digitsStr) <= scale {
		digitsStr = "0" + digitsStr
	}
	s := digitsStr
	if scale > 0 {
		s = digitsStr[:len(digitsStr)-scale] + "." + digitsStr[len(digitsStr)-scale:]
	}
	if r.Sign() < 0 && m.Sign() != 0 {
		s = "-" + s
	}
	digits := len(strings.TrimLeft(digitsStr, "0"))
	if digits < scale {
		digits = scale
	}
	if digits == 0 {
		digits = 1
	}
	return s, digits, scale
}

// positiveInt evaluates a bound or array size: an integer in 1..2^32-1.
func (p *parser) positiveInt(what string) uint32 {
	v := p.constExpr()
	if v.kind != cvInt {
		p.failf(v.pos, ErrBadConst, "%s must be an integer, found a %s", what, v.kindName())
	}
	if v.i.Sign() <= 0 || v.i.Cmp(bigOf(math.MaxUint32)) > 0 {
		p.failf(v.pos, ErrBadConst, "%s must be a positive integer below 2^32, found %s", what, v.i)
	}
	return uint32(v.i.Uint64())
}

// label converts a union case label to the int64 stored in UnionCase.
func (p *parser) label(v cval, disc *Type) int64 {
	t := stripAlias(disc)
	switch t.Kind {
	case giop.TkEnum:
		if v.kind != cvEnum || v.enum != t {
			p.failf(v.pos, ErrBadConst, "case label %s is not an enumerator of %s", v, t.Name)
		}
		return int64(v.idx)
	case giop.TkBoolean:
		if v.kind != cvBool {
			p.failf(v.pos, ErrBadConst, "case label %s is not TRUE or FALSE", v)
		}
		if v.b {
			return 1
		}
		return 0
	case giop.TkChar, giop.TkWChar:
		if v.kind != cvChar && v.kind != cvWChar || t.Kind == giop.TkChar && v.kind == cvWChar {
			p.failf(v.pos, ErrBadConst, "case label %s is not a %s literal", v, t.Kind)
		}
		return int64(v.c)
	}
	switch x := p.convert(v, t).(type) {
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x) // the bit pattern, documented on UnionCase
	case byte:
		return int64(x)
	}
	return 0
}

var intRanges = map[Kind][2]*big.Int{
	giop.TkShort:     {bigOf(math.MinInt16), bigOf(math.MaxInt16)},
	giop.TkUShort:    {bigOf(0), bigOf(math.MaxUint16)},
	giop.TkLong:      {bigOf(math.MinInt32), bigOf(math.MaxInt32)},
	giop.TkULong:     {bigOf(0), bigOf(math.MaxUint32)},
	giop.TkLongLong:  {bigOf(math.MinInt64), bigOf(math.MaxInt64)},
	giop.TkULongLong: {bigOf(0), new(big.Int).SetUint64(math.MaxUint64)},
	giop.TkOctet:     {bigOf(0), bigOf(math.MaxUint8)},
}

// convert checks an expression value against the constant's type and
// returns the Go value doc.go prescribes for that type.
func (p *parser) convert(v cval, typ *Type) any {
	t := stripAlias(typ)
	bad := func() {
		p.failf(v.pos, ErrBadConst, "a %s (%s) is not a valid %s value", v.kindName(), v, typeString(typ))
	}
	switch t.Kind {
	case giop.TkShort, giop.TkUShort, giop.TkLong, giop.TkULong, giop.TkLongLong, giop.TkULongLong, giop.TkOctet:
		if v.kind != cvInt {
			bad()
		}
		r := intRanges[t.Kind]
		if v.i.Cmp(r[0]) < 0 || v.i.Cmp(r[1]) > 0 {
			p.failf(v.pos, ErrBadConst, "%s is out of range for %s (%s..%s)", v.i, typeString(typ), r[0], r[1])
		}
		switch t.Kind {
		case giop.TkShort:
			return int16(v.i.Int64())
		case giop.TkUShort:
			return uint16(v.i.Uint64())
		case giop.TkLong:
			return int32(v.i.Int64())
		case giop.TkULong:
			return uint32(v.i.Uint64())
		case giop.TkLongLong:
			return v.i.Int64()
		case giop.TkULongLong:
			return v.i.Uint64()
		}
		return byte(v.i.Uint64())
	case giop.TkFloat, giop.TkDouble, giop.TkLongDouble:
		if v.kind != cvFloat && v.kind != cvInt {
			bad()
		}
		f := floatOf(v)
		if t.Kind == giop.TkFloat {
			if math.Abs(f) > math.MaxFloat32 {
				p.failf(v.pos, ErrBadConst, "%s is out of range for float", v)
			}
			return float32(f)
		}
		return f
	case giop.TkFixed:
		if v.kind != cvFixed && v.kind != cvInt {
			bad()
		}
		if v.kind == cvInt {
			v = cval{kind: cvFixed, r: ratOf(v), pos: v.pos}
		}
		s, digits, scale := fixedDecimal(v.r)
		if digits > 31 {
			p.failf(v.pos, ErrBadConst, "%s has more than 31 digits", s)
		}
		if t.Digits > 0 && digits-scale > int(t.Digits)-int(t.Scale) {
			p.failf(v.pos, ErrBadConst, "%s does not fit fixed<%d,%d>", s, t.Digits, t.Scale)
		}
		return s
	case giop.TkChar:
		if v.kind != cvChar {
			bad()
		}
		return byte(v.c)
	case giop.TkWChar:
		if v.kind != cvWChar && v.kind != cvChar {
			bad()
		}
		return v.c
	case giop.TkBoolean:
		if v.kind != cvBool {
			bad()
		}
		return v.b
	case giop.TkString, giop.TkWString:
		if v.kind != cvString && v.kind != cvWString || t.Kind == giop.TkString && v.kind == cvWString {
			bad()
		}
		if t.Bound > 0 && uint32(utf8.RuneCountInString(v.s)) > t.Bound {
			p.failf(v.pos, ErrBadConst, "string of %d characters exceeds the bound %d of %s", utf8.RuneCountInString(v.s), t.Bound, typeString(typ))
		}
		return v.s
	case giop.TkEnum:
		if v.kind != cvEnum || v.enum != t {
			bad()
		}
		return t.Enumerators[v.idx]
	}
	p.failf(v.pos, ErrBadConst, "constants of type %s are not supported", typeString(typ))
	return nil
}
