package idl

import "errors"

// Errors of the marshaller. Errors returned by Marshal, Unmarshal,
// WriteTypeCode, ReadTypeCode, ToJSON and FromJSON wrap ErrMismatch,
// ErrUnsupported (declared in errors.go, shared with the parser: a non-null
// value type, a native or local interface, a wchar in GIOP 1.0, a JSON any
// whose type cannot be resolved) or giop.ErrMarshal (bytes that are not
// valid CDR for the type), so callers test them with errors.Is.

// ErrMismatch means a Go value does not fit its IDL type: the wrong Go
// type, a missing or extra struct member, a value beyond a bound, an
// unknown enumerator.
var ErrMismatch = errors.New("idl: value does not match its type")

// ValueError is the error of marshalling or unmarshalling one value. Path
// says where in the value it happened, as in
//
//	arg "desc".properties[3].value: idl: value does not match its type: ...
//
// and Err wraps ErrMismatch, ErrUnsupported or giop.ErrMarshal.
type ValueError struct {
	Path string
	Err  error
}

// Error returns the path and the cause.
func (e *ValueError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ValueError) Unwrap() error { return e.Err }

// atPath prefixes the path of err (a *ValueError made by this package, or
// any other error) with seg.
func atPath(err error, seg string) error {
	if err == nil {
		return nil
	}
	if ve, ok := err.(*ValueError); ok {
		ve.Path = seg + ve.Path
		return ve
	}
	return &ValueError{Path: seg, Err: err}
}

// topPath finishes the path of an error returned by a top-level call:
// the leading "." of a member name is dropped.
func topPath(err error) error {
	if ve, ok := err.(*ValueError); ok && len(ve.Path) > 0 && ve.Path[0] == '.' {
		ve.Path = ve.Path[1:]
	}
	return err
}
