package idl

import (
	"strings"

	"github.com/requestagent/requestagent/giop"
)

// corbaObjectID is the repository id every interface is an instance of.
const corbaObjectID = "IDL:omg.org/CORBA/Object:1.0"

// Operation finds the operation a GIOP request names: one declared in
// the interface or inherited (searched depth first over the bases in
// declaration order), or an attribute accessor "_get_x"/"_set_x", which
// is synthesized with the attribute's type and raises clauses and with
// Interface set to the interface declaring the attribute. Accessors are
// built on each call, so their pointers are not stable.
func (i *Interface) Operation(name string) (*Operation, bool) {
	op := i.findOperation(name, nil)
	return op, op != nil
}

func (i *Interface) findOperation(name string, seen map[*Interface]bool) *Operation {
	for _, op := range i.Operations {
		if op.Name == name {
			return op
		}
	}
	if attr, ok := strings.CutPrefix(name, "_get_"); ok {
		for _, a := range i.Attributes {
			if a.Name == attr {
				return i.getter(a)
			}
		}
	}
	if attr, ok := strings.CutPrefix(name, "_set_"); ok {
		for _, a := range i.Attributes {
			if a.Name == attr && !a.Readonly {
				return i.setter(a)
			}
		}
	}
	if len(i.Bases) == 0 {
		return nil
	}
	// A base reached by two paths (diamond inheritance) is searched once.
	if seen == nil {
		seen = map[*Interface]bool{}
	}
	seen[i] = true
	for _, b := range i.Bases {
		if seen[b] {
			continue
		}
		if op := b.findOperation(name, seen); op != nil {
			return op
		}
	}
	return nil
}

func (i *Interface) getter(a *Attribute) *Operation {
	return &Operation{Name: "_get_" + a.Name, Result: a.Type, Raises: a.GetRaises, Interface: i}
}

func (i *Interface) setter(a *Attribute) *Operation {
	return &Operation{
		Name:      "_set_" + a.Name,
		Result:    basicTypes[giop.TkVoid],
		Params:    []Param{{Name: "value", Dir: In, Type: a.Type}},
		Raises:    a.SetRaises,
		Interface: i,
	}
}

// AllOperations returns every operation a request on the interface may
// name: its own operations, then its attributes' accessors, then those
// of its bases depth first, each name once.
func (i *Interface) AllOperations() []*Operation {
	var out []*Operation
	names := map[string]bool{}
	seen := map[*Interface]bool{}
	var walk func(*Interface)
	walk = func(x *Interface) {
		if seen[x] {
			return
		}
		seen[x] = true
		add := func(op *Operation) {
			if !names[op.Name] {
				names[op.Name] = true
				out = append(out, op)
			}
		}
		for _, op := range x.Operations {
			add(op)
		}
		for _, a := range x.Attributes {
			add(x.getter(a))
			if !a.Readonly {
				add(x.setter(a))
			}
		}
		for _, b := range x.Bases {
			walk(b)
		}
	}
	walk(i)
	return out
}

// IsA reports whether an object of this interface is an instance of the
// interface with the given repository id: the interface itself, any base
// transitively, or CORBA::Object. It answers the _is_a operation.
func (i *Interface) IsA(repoID string) bool {
	if repoID == corbaObjectID {
		return true
	}
	return i.isA(repoID, map[*Interface]bool{})
}

func (i *Interface) isA(repoID string, seen map[*Interface]bool) bool {
	if i.RepoID == repoID {
		return true
	}
	seen[i] = true
	for _, b := range i.Bases {
		if !seen[b] && b.isA(repoID, seen) {
			return true
		}
	}
	return false
}
