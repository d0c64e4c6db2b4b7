package agent

import (
	"errors"

	"github.com/requestagent/requestagent/giop"
)

// How a body crosses GIOP versions unchanged (giop/SPEC.md, "Relaying
// bodies across GIOP versions"). A client's body goes to the target at the
// lower of the client's version and the target profile's, so that it is
// read under the rules it was written by: in GIOP 1.0 char data is
// ISO-8859-1 and there is no wchar, while 1.1 and 1.2 negotiate code sets
// and encode wide characters differently (§15.3.1.6). Only its offset
// modulo 8 can then differ, and a padding context in the header the agent
// writes makes it up.

// relayVersion is the GIOP version of the request to a target whose
// profile is at prof, for a body from a client at client: the lower one,
// as the giop client picks it for Invocation.BodyVersion.
func relayVersion(client, prof giop.Version) giop.Version {
	if !prof.Supported() {
		prof = giop.V1_2
	}
	if client.Supported() && client.Minor < prof.Minor {
		return client
	}
	return prof
}

// fitsHeader reports whether a body encoded at offset align modulo 8 can
// follow a header the agent writes in GIOP version v: a 1.2 body starts
// 8-aligned; a 1.0/1.1 header ends 4-aligned (its principal is empty), and
// a padding context moves the body by 4 when need be. An offset that is
// not a multiple of 4 (a client's principal of such a length) cannot be
// reached, nor can a fragmented 1.1 body that does not reassemble into
// one piece (align -1).
func fitsHeader(v giop.Version, align int8) bool {
	return align == 0 || (align == 4 && v.Minor < 2)
}

// bodyRelayable reports whether rec's body reaches its target unchanged.
func bodyRelayable(rec *requestRecord) bool {
	prof, err := rec.target.CallProfile()
	return err == nil && fitsHeader(relayVersion(rec.version, prof.Version), rec.bodyAlign)
}

// stringRules is what the string data of a body means: the transmission
// code sets for char and wchar (0: none, so no wide characters at all)
// and whether wide characters are in GIOP 1.2's encoding.
type stringRules struct {
	char, wchar uint32
	wide12      bool
}

// codeSetISO8859_1 is char's transmission code set where none is
// negotiated, and always in GIOP 1.0 (CORBA 3.0 §13.10.2.6).
const codeSetISO8859_1 = 0x00010001

// negotiated returns the code sets a client and the agent settle on for
// target: those ChooseCodeSets picks from its profile, which are the only
// ones the agent's references for it advertise (targetIOR), or
// ISO-8859-1 and no wchar when it advertises none.
func negotiated(target *giop.IOR) (char, wchar uint32) {
	if prof, err := target.CallProfile(); err == nil {
		if info, ok := prof.CodeSets(); ok {
			cs := giop.ChooseCodeSets(info)
			return cs.Char, cs.WChar
		}
	}
	return codeSetISO8859_1, 0
}

// clientRules are the rules of a body a client at version v sends to, or
// reads from, one of the agent's objects for target.
func clientRules(v giop.Version, target *giop.IOR) stringRules {
	if v.Minor == 0 {
		return stringRules{char: codeSetISO8859_1}
	}
	c, w := negotiated(target)
	return stringRules{char: c, wchar: w, wide12: v.Minor >= 2}
}

// targetRules are the rules of a body exchanged with target at version
// v, for a request whose client was at body: a 1.2 body going at 1.1 goes
// over a connection that negotiates no wchar (Invocation.BodyVersion).
func targetRules(v giop.Version, target *giop.IOR, body giop.Version) stringRules {
	if v.Minor == 0 {
		return stringRules{char: codeSetISO8859_1}
	}
	c, w := negotiated(target)
	if body.Minor >= 2 && v.Minor == 1 {
		w = 0
	}
	return stringRules{char: c, wchar: w, wide12: v.Minor >= 2}
}

// sameChars reports whether char data written under w reads the same
// under r; sameWide whether wide characters do (none can be written, or
// none read, or both sides agree on code set and encoding).
func sameChars(w, r stringRules) bool { return w.char == r.char }
func sameWide(w, r stringRules) bool {
	return w.wchar == 0 || r.wchar == 0 || (w.wchar == r.wchar && w.wide12 == r.wide12)
}

// replyRules returns the rules y's body was written by and those a client
// at version client reads it by. They can differ only when the reply is
// read at another GIOP version than its request was sent at (a poller
// called by another client), so relayReply asks only then: for a client at
// the request's own version, the request went at a version and over a
// connection chosen so that they agree (giop/SPEC.md's table).
func replyRules(rec *requestRecord, y *replyRecord, client giop.Version) (written, read stringRules) {
	return targetRules(y.version, rec.target, rec.version), clientRules(client, rec.target)
}

// errFragmentedBody is why a body in pieces of different alignments
// cannot be relayed without its IDL.
var errFragmentedBody = errors.New("a GIOP 1.1 body whose fragments align differently cannot be relayed unchanged, and its IDL is not loaded")
