package idl

import "github.com/requestagent/requestagent/giop"

// Kind is the kind of an IDL type; the values are those of CORBA TypeCode
// kinds, so a Type maps one to one onto a TypeCode.
type Kind = giop.TCKind

// Type is an IDL type. Named types (struct, union, enum, alias, exception,
// interface references, value types) carry their scoped name and
// repository id. Recursive types are pointer cycles (a struct whose member
// is a sequence of itself), so walks over a Type must track what they
// visited.
type Type struct {
	Kind Kind
	// Name is the scoped name without the leading "::", such as
	// "Demo::Blob"; empty for anonymous types (sequence<long>, string<8>).
	Name string
	// RepoID is the repository id of a named type.
	RepoID string
	// Elem is the element type of a sequence or array, the aliased type of
	// a typedef (alias), and the boxed type of a value box.
	Elem *Type
	// Bound is the bound of a string, wstring or sequence; 0 is unbounded.
	Bound uint32
	// Length is the length of an array. A multi-dimensional array is an
	// array whose Elem is an array.
	Length uint32
	// Members are the members of a struct or exception, in order (and the
	// state members of a value type).
	Members []Member
	// Enumerators are the names of an enum's values, in order.
	Enumerators []string
	// Disc is a union's discriminator type.
	Disc *Type
	// Cases are a union's cases, in declaration order.
	Cases []UnionCase
	// Digits and Scale describe a fixed type.
	Digits uint16
	Scale  int16
	// Interface is the interface of an object reference type, when known
	// (nil for CORBA::Object).
	Interface *Interface
	// Base is the concrete base of a value type, if any.
	Base *Type
}

// Member is a member of a struct, exception or value type.
type Member struct {
	Name string
	Type *Type
	// Public is set for public state members of a value type.
	Public bool
}

// UnionCase is one case of a union: its labels, and the member selected.
type UnionCase struct {
	// Labels are the case labels as int64: the value for integer and char
	// discriminators, 0 or 1 for boolean, the enumerator's index for enum.
	Labels []int64
	// IsDefault marks the default case (which may also have labels).
	IsDefault bool
	Name      string
	Type      *Type
}

// Union is the Go value of an IDL union: the discriminator value (of the
// discriminator type's Go type) and the selected member's value (nil when
// no case is selected).
type Union struct {
	Disc  any
	Value any
}

// Any is the Go value of an IDL any: a type and a value of that type.
type Any struct {
	Type  *Type
	Value any
}

// Direction is the direction of an operation parameter.
type Direction int

// Parameter directions.
const (
	In Direction = iota
	Out
	InOut
)

// String returns the IDL keyword.
func (d Direction) String() string {
	switch d {
	case Out:
		return "out"
	case InOut:
		return "inout"
	}
	return "in"
}

// Param is an operation parameter.
type Param struct {
	Name string
	Dir  Direction
	Type *Type
}

// Operation is an IDL operation, or an attribute accessor synthesized as
// one (_get_x with the attribute as result; _set_x with one in parameter).
type Operation struct {
	Name   string
	Oneway bool
	// Result is the return type; Kind TkVoid for void.
	Result   *Type
	Params   []Param
	Raises   []*Type
	Contexts []string
	// Interface is where the operation is declared.
	Interface *Interface
}

// Attribute is an IDL attribute.
type Attribute struct {
	Name      string
	Type      *Type
	Readonly  bool
	GetRaises []*Type
	SetRaises []*Type
}

// Interface is an IDL interface (or abstract/local interface).
type Interface struct {
	Name     string // scoped name, such as "NativeMessaging::RequestAgent"
	RepoID   string
	Abstract bool
	Local    bool
	// Bases are the direct base interfaces, in declaration order.
	Bases []*Interface
	// Operations and Attributes are those declared in this interface.
	Operations []*Operation
	Attributes []*Attribute
	// Type is the object reference type of this interface.
	Type *Type
}
