package agent

import (
	"errors"

	"github.com/requestagent/requestagent/giop"
)

// ErrNoIDL means the IDL of the interface or operation is not loaded.
var ErrNoIDL = errors.New("agent: interface IDL not loaded")

// IDL is what the agent needs to know of target interfaces; the idl
// package's repository provides it. The agent relays bodies unchanged when
// it can, so IDL is needed only for suppressed-mode premature returns and
// for re-encoding between GIOP versions whose body alignments differ.
type IDL interface {
	// ZeroResults writes the zero return value and out/inout parameters of
	// the operation (a suppressed-mode premature return).
	ZeroResults(repoID, operation string, e *giop.Encoder) error
	// TranscodeArgs re-encodes in/inout arguments read from d into e.
	TranscodeArgs(repoID, operation string, d *giop.Decoder, e *giop.Encoder) error
	// TranscodeReply re-encodes a reply body (results, or an exception
	// with its repository id) read from d into e.
	TranscodeReply(repoID, operation string, status giop.ReplyStatus, d *giop.Decoder, e *giop.Encoder) error
	// ArgsJSON decodes in/inout arguments to JSON, for operators.
	ArgsJSON(repoID, operation string, d *giop.Decoder) ([]byte, error)
	// ResultsJSON decodes a normal reply's results to JSON, for operators.
	ResultsJSON(repoID, operation string, d *giop.Decoder) ([]byte, error)
}

// noIDL knows no interface.
type noIDL struct{}

func (noIDL) ZeroResults(string, string, *giop.Encoder) error { return ErrNoIDL }
func (noIDL) TranscodeArgs(string, string, *giop.Decoder, *giop.Encoder) error {
	return ErrNoIDL
}
func (noIDL) TranscodeReply(string, string, giop.ReplyStatus, *giop.Decoder, *giop.Encoder) error {
	return ErrNoIDL
}
func (noIDL) ArgsJSON(string, string, *giop.Decoder) ([]byte, error)    { return nil, ErrNoIDL }
func (noIDL) ResultsJSON(string, string, *giop.Decoder) ([]byte, error) { return nil, ErrNoIDL }
