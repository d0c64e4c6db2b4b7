package idl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/requestagent/requestagent/giop"
)

// Options control how IDL source is read.
type Options struct {
	// IncludePaths are the directories searched, in order, for
	// #include <file>, and for #include "file" after the directory of
	// the including file.
	IncludePaths []string
	// Defines are macros defined before parsing, as with cpp's -D: "NAME"
	// (defined as 1) or "NAME=VALUE". omniidl defines __OMNIIDL__, which
	// some of omniORB's own IDL files test.
	Defines []string
	// FS, when set, is where files and includes are read from, with
	// fs.FS path syntax; nil reads the operating system's files. A test
	// or fuzzer can confine includes to an fstest.MapFS with it.
	FS fs.FS
}

// Const is an IDL constant or enumerator. Value has the Go type doc.go
// gives the constant's type (int32 for long, string for enum, ...).
type Const struct {
	// Name is the scoped name, such as "NativeMessaging::REPLY_NOT_AVAILABLE".
	Name string
	// Type is the declared type: an alias when the constant was declared
	// with a typedef name, the enum for an enumerator, and for "const
	// fixed" a fixed type with the digits and scale of the value.
	Type *Type
	// Value is the constant's value; for an enumerator, its name.
	Value any
}

// Repository holds every type, interface and constant of the IDL loaded
// into it, by scoped name and by repository id. It is safe for
// concurrent use; the Types and Interfaces it returns are shared and
// must not be modified.
//
// Each load parses a file with its includes as one unit, as an IDL
// compiler would, and adds the result only if the whole unit parsed, so
// a failed load leaves the repository as it was. When two loads define
// the same scoped name or repository id (both include orb.idl, say), the
// first definition is kept.
type Repository struct {
	mu          sync.RWMutex
	types       []*Type
	typeByName  map[string]*Type
	typeByID    map[string]*Type
	ifaces      []*Interface
	ifaceByName map[string]*Interface
	ifaceByID   map[string]*Interface
	consts      map[string]Const
}

// NewRepository returns an empty repository.
func NewRepository() *Repository {
	return &Repository{
		typeByName:  map[string]*Type{},
		typeByID:    map[string]*Type{},
		ifaceByName: map[string]*Interface{},
		ifaceByID:   map[string]*Interface{},
		consts:      map[string]Const{},
	}
}

// LoadFile parses the IDL file at name (and everything it includes) and
// adds its definitions. Errors in the IDL are *SyntaxError values
// carrying file:line:col.
func (r *Repository) LoadFile(name string, opts *Options) error {
	var fsys fs.FS
	if opts != nil {
		fsys = opts.FS
	}
	src, err := readSource(fsys, name)
	if err != nil {
		return fmt.Errorf("idl: load %s: %w", name, err)
	}
	return r.LoadSource(name, src, opts)
}

// LoadSource parses IDL source held in memory; name is used in error
// messages and its directory is searched first for #include "file".
func (r *Repository) LoadSource(name string, src []byte, opts *Options) error {
	dir := filepath.Dir(name)
	if opts != nil && opts.FS != nil {
		dir = path.Dir(name)
	}
	if len(src) > maxFileSize {
		return fmt.Errorf("idl: load %s: larger than %d bytes", name, maxFileSize)
	}
	decls, err := parseSource(name, name, dir, src, opts)
	if err != nil {
		return err
	}
	r.commit(decls)
	return nil
}

// LoadDir loads every *.idl file directly in dir, in name order, with
// dir added after opts.IncludePaths for #include <file>. A file that
// fails does not stop the others; the errors are joined.
func (r *Repository) LoadDir(dir string, opts *Options) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	var names []string
	if o.FS != nil {
		entries, err := fs.ReadDir(o.FS, dir)
		if err != nil {
			return fmt.Errorf("idl: load %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".idl") {
				names = append(names, path.Join(dir, e.Name()))
			}
		}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("idl: load %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".idl") {
				names = append(names, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(names)
	o.IncludePaths = append(append([]string(nil), o.IncludePaths...), dir)
	var errs []error
	for _, n := range names {
		if err := r.LoadFile(n, &o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// commit adds a parsed unit's definitions.
func (r *Repository) commit(decls []*decl) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range decls {
		name := d.scopedName()
		switch d.kind {
		case dInterface:
			newName, newID := r.ifaceByName[name] == nil, r.ifaceByID[d.iface.RepoID] == nil
			if newName {
				r.ifaceByName[name] = d.iface
			}
			if newID {
				r.ifaceByID[d.iface.RepoID] = d.iface
			}
			if newName || newID {
				r.ifaces = append(r.ifaces, d.iface)
			}
			r.addType(name, d.typ)
		case dType, dValue:
			if !d.defined && (d.typ.Kind == giop.TkStruct || d.typ.Kind == giop.TkUnion) {
				continue // an incomplete forward declaration
			}
			r.addType(name, d.typ)
		case dConst:
			if _, ok := r.consts[name]; !ok {
				r.consts[name] = *d.konst
			}
		}
	}
}

func (r *Repository) addType(name string, t *Type) {
	newName, newID := r.typeByName[name] == nil, r.typeByID[t.RepoID] == nil
	if newName {
		r.typeByName[name] = t
	}
	if newID {
		r.typeByID[t.RepoID] = t
	}
	if newName || newID {
		r.types = append(r.types, t)
	}
}

// Type returns the named type (struct, union, enum, typedef, exception,
// native, value type, or an interface's object reference type) with the
// given scoped name ("Demo::Blob" or "::Demo::Blob") or repository id.
func (r *Repository) Type(nameOrRepoID string) (*Type, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t := r.typeByName[strings.TrimPrefix(nameOrRepoID, "::")]; t != nil {
		return t, true
	}
	t := r.typeByID[nameOrRepoID]
	return t, t != nil
}

// Interface returns the interface with the given scoped name or
// repository id.
func (r *Repository) Interface(nameOrRepoID string) (*Interface, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if i := r.ifaceByName[strings.TrimPrefix(nameOrRepoID, "::")]; i != nil {
		return i, true
	}
	i := r.ifaceByID[nameOrRepoID]
	return i, i != nil
}

// Interfaces returns every interface, in the order they were loaded.
func (r *Repository) Interfaces() []*Interface {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Interface(nil), r.ifaces...)
}

// Types returns every named type, in the order they were loaded.
func (r *Repository) Types() []*Type {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Type(nil), r.types...)
}

// Const returns the constant or enumerator with the given scoped name.
func (r *Repository) Const(scopedName string) (Const, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.consts[strings.TrimPrefix(scopedName, "::")]
	return c, ok
}
