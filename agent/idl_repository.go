package agent

import (
	"encoding/json"
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

// ArgsJSON decodes the in/inout arguments into a JSON object by parameter name.
func (r repositoryIDL) ArgsJSON(repoID, operation string, d *giop.Decoder) ([]byte, error) {
	op, err := r.op(repoID, operation)
	if err != nil {
		return nil, err
	}
	args, err := op.UnmarshalArgs(d)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage)
	if err := paramsJSON(out, op.Params, idl.Out, args); err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// ResultsJSON decodes a normal reply into {"return": …, "<out param>": …}.
func (r repositoryIDL) ResultsJSON(repoID, operation string, d *giop.Decoder) ([]byte, error) {
	op, err := r.op(repoID, operation)
	if err != nil {
		return nil, err
	}
	res, outs, err := op.UnmarshalResults(d)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage)
	if op.Result != nil && op.Result.Kind != giop.TkVoid {
		j, err := idl.ToJSON(op.Result, res)
		if err != nil {
			return nil, err
		}
		out["return"] = j
	}
	if err := paramsJSON(out, op.Params, idl.In, outs); err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// paramsJSON puts vals, in order, as JSON under the names of the params
// not of direction skip (the in-direction ones for arguments, the
// out-direction ones for results).
func paramsJSON(out map[string]json.RawMessage, params []idl.Param, skip idl.Direction, vals []any) error {
	i := 0
	for _, p := range params {
		if p.Dir == skip {
			continue
		}
		if i >= len(vals) {
			break
		}
		j, err := idl.ToJSON(p.Type, vals[i])
		if err != nil {
			return err
		}
		out[p.Name] = j
		i++
	}
	return nil
}
