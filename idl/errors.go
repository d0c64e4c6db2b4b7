package idl

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors about a place in an IDL file are *SyntaxError
// values that wrap one of these, so callers can test the category with
// errors.Is and still print the position.
var (
	// ErrSyntax is a malformed construct: something other than what the
	// grammar expects at that point.
	ErrSyntax = errors.New("idl: syntax error")
	// ErrUndeclared is a scoped name that does not resolve.
	ErrUndeclared = errors.New("idl: undeclared name")
	// ErrRedefined is a second definition of a name in the same scope.
	ErrRedefined = errors.New("idl: name redefined")
	// ErrBadConst is a constant expression that cannot be evaluated or
	// whose value does not fit its type (bounds, labels, const values).
	ErrBadConst = errors.New("idl: bad constant expression")
	// ErrUnsupported is IDL that is valid but that this package does not
	// handle: CORBA component IDL, import, function-like macros, and
	// marshalling of value types.
	ErrUnsupported = errors.New("idl: not supported")
	// ErrInclude is an #include that cannot be satisfied: file not found,
	// not a regular file, or too large.
	ErrInclude = errors.New("idl: cannot include file")
	// ErrIncludeCycle is a file that includes itself (directly or not)
	// without an include guard or #pragma once to stop the recursion.
	ErrIncludeCycle = errors.New("idl: recursive #include")
	// ErrTooDeep is input nested beyond the parser's limits (include depth,
	// scopes, type specs, expressions), refused so that hostile input
	// cannot exhaust the stack.
	ErrTooDeep = errors.New("idl: nesting too deep")
	// ErrPreprocessor is a malformed or failing preprocessor directive
	// (#if without #endif, #error, an unknown directive).
	ErrPreprocessor = errors.New("idl: preprocessor error")
)

// SyntaxError is an error at a position in an IDL source file. Msg says
// what was expected and what was found.
type SyntaxError struct {
	File      string
	Line, Col int
	Msg       string
	// Err is the sentinel naming the error's category (ErrSyntax,
	// ErrUndeclared, ...); it is what Unwrap returns.
	Err error
}

// Error formats the error as "file:line:col: msg", the form editors and
// compilers use, so the position is clickable.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Unwrap returns the category sentinel.
func (e *SyntaxError) Unwrap() error { return e.Err }
