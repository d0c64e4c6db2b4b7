package agent

import (
	"fmt"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
)

// RepositoryIDL gives the agent the target interfaces of an IDL repository
// (loaded with --idl).
func RepositoryIDL(repo *idl.Repository) IDL { return repositoryIDL{repo} }

type repositoryIDL struct{ repo *idl.Repository }

func (r repositoryIDL) op(repoID, name string) (*idl.Operation, error) {
	iface, ok := r.repo.Interface(repoID)
	if !ok {
		return nil, fmt.Errorf("%w: no interface %s", ErrNoIDL, repoID)
	}
	op, ok := iface.Operation(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no operation %s", ErrNoIDL, repoID, name)
	}
	return op, nil
}

// ZeroResults writes the operation's zero results; nothing when the IDL is
// unknown, so the caller can answer unsuppressed instead.
func (r repositoryIDL) ZeroResults(repoID, operation string, e *giop.Encoder) error {
	op, err := r.op(repoID, operation)
	if err != nil {
		return err
	}
	return op.MarshalZeroResults(e)
}

// TranscodeArgs decodes the in/inout arguments and encodes them again.
func (r repositoryIDL) TranscodeArgs(repoID, operation string, d *giop.Decoder, e *giop.Encoder) error {
	op, err := r.op(repoID, operation)
	if err != nil {
		return err
	}
	args, err := op.UnmarshalArgs(d)
	if err != nil {
		return err
	}
	return op.MarshalArgs(e, args)
}

// TranscodeReply decodes a normal reply's results and encodes them again;
// exception bodies are not transcoded here.
func (r repositoryIDL) TranscodeReply(repoID, operation string, status giop.ReplyStatus, d *giop.Decoder, e *giop.Encoder) error {
	if status != giop.ReplyNoException {
		return fmt.Errorf("%w: only normal replies are re-encoded", ErrNoIDL)
	}
	op, err := r.op(repoID, operation)
	if err != nil {
		return err
	}
	res, outs, err := op.UnmarshalResults(d)
	if err != nil {
		return err
	}
	return op.MarshalResults(e, res, outs)
}
