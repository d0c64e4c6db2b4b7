// Package configerr is the error a Config's Validate returns for a field
// out of range, shared by the agent, giop and storage packages: it names
// the field, so that the command line can name the flag that set it.
package configerr

import "fmt"

// Field is a Config field out of range. It reads
// "<sentinel>: Field=value: why" and wraps sentinel, the package's
// ErrBadConfig.
type Field struct {
	Sentinel error
	// Name is the field's Go name ("MaxCookieBytes", "Defaults.ReplyDropping").
	Name string
	// Value is the value as the message shows it.
	Value string
	// Why says what the field must be.
	Why string
}

// New returns a *Field for the field name holding v (shown with %v).
func New(sentinel error, name string, v any, why string) error {
	return &Field{Sentinel: sentinel, Name: name, Value: fmt.Sprint(v), Why: why}
}

// Quoted is New with the value shown quoted, for strings.
func Quoted(sentinel error, name, v, why string) error {
	return &Field{Sentinel: sentinel, Name: name, Value: fmt.Sprintf("%q", v), Why: why}
}

func (f *Field) Error() string {
	return fmt.Sprintf("%v: %s=%s: %s", f.Sentinel, f.Name, f.Value, f.Why)
}

// Unwrap returns the package's ErrBadConfig.
func (f *Field) Unwrap() error { return f.Sentinel }
