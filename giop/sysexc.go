package giop

import (
	"fmt"
	"strings"
)

// CompletionStatus says whether a failed operation ran (CORBA 3.0 §4.12.1).
type CompletionStatus uint32

// Completion statuses, in their wire order.
const (
	CompletedYes   CompletionStatus = 0
	CompletedNo    CompletionStatus = 1
	CompletedMaybe CompletionStatus = 2
)

// String returns the IDL name of the status.
func (c CompletionStatus) String() string {
	switch c {
	case CompletedYes:
		return "COMPLETED_YES"
	case CompletedNo:
		return "COMPLETED_NO"
	case CompletedMaybe:
		return "COMPLETED_MAYBE"
	}
	return fmt.Sprintf("CompletionStatus(%d)", uint32(c))
}

// OMGVMCID is the OMG's vendor minor code set id; standard minor codes are
// OMGVMCID|n (CORBA 3.0 §4.12.2).
const OMGVMCID uint32 = 0x4F4D0000

// Names of the standard system exceptions (CORBA 3.0 §4.12.3), used with
// NewSystemException. The repository id is "IDL:omg.org/CORBA/<name>:1.0".
const (
	ExcUnknown                = "UNKNOWN"
	ExcBadParam               = "BAD_PARAM"
	ExcNoMemory               = "NO_MEMORY"
	ExcImpLimit               = "IMP_LIMIT"
	ExcCommFailure            = "COMM_FAILURE"
	ExcInvObjref              = "INV_OBJREF"
	ExcNoPermission           = "NO_PERMISSION"
	ExcInternal               = "INTERNAL"
	ExcMarshal                = "MARSHAL"
	ExcInitialize             = "INITIALIZE"
	ExcNoImplement            = "NO_IMPLEMENT"
	ExcBadTypeCode            = "BAD_TYPECODE"
	ExcBadOperation           = "BAD_OPERATION"
	ExcNoResources            = "NO_RESOURCES"
	ExcNoResponse             = "NO_RESPONSE"
	ExcPersistStore           = "PERSIST_STORE"
	ExcBadInvOrder            = "BAD_INV_ORDER"
	ExcTransient              = "TRANSIENT"
	ExcFreeMem                = "FREE_MEM"
	ExcInvIdent               = "INV_IDENT"
	ExcInvFlag                = "INV_FLAG"
	ExcIntfRepos              = "INTF_REPOS"
	ExcBadContext             = "BAD_CONTEXT"
	ExcObjAdapter             = "OBJ_ADAPTER"
	ExcDataConversion         = "DATA_CONVERSION"
	ExcObjectNotExist         = "OBJECT_NOT_EXIST"
	ExcTransactionRequired    = "TRANSACTION_REQUIRED"
	ExcTransactionRolledBack  = "TRANSACTION_ROLLEDBACK"
	ExcInvalidTransaction     = "INVALID_TRANSACTION"
	ExcInvPolicy              = "INV_POLICY"
	ExcCodesetIncompatible    = "CODESET_INCOMPATIBLE"
	ExcRebind                 = "REBIND"
	ExcTimeout                = "TIMEOUT"
	ExcTransactionUnavailable = "TRANSACTION_UNAVAILABLE"
	ExcTransactionMode        = "TRANSACTION_MODE"
	ExcBadQoS                 = "BAD_QOS"
	ExcInvalidActivity        = "INVALID_ACTIVITY"
	ExcActivityCompleted      = "ACTIVITY_COMPLETED"
	ExcActivityRequired       = "ACTIVITY_REQUIRED"
	ExcThreadCancelled        = "THREAD_CANCELLED"
)

// StandardExceptions lists every standard system exception name.
var StandardExceptions = []string{ExcUnknown, ExcBadParam, ExcNoMemory, ExcImpLimit,
	ExcCommFailure, ExcInvObjref, ExcNoPermission, ExcInternal, ExcMarshal, ExcInitialize,
	ExcNoImplement, ExcBadTypeCode, ExcBadOperation, ExcNoResources, ExcNoResponse,
	ExcPersistStore, ExcBadInvOrder, ExcTransient, ExcFreeMem, ExcInvIdent, ExcInvFlag,
	ExcIntfRepos, ExcBadContext, ExcObjAdapter, ExcDataConversion, ExcObjectNotExist,
	ExcTransactionRequired, ExcTransactionRolledBack, ExcInvalidTransaction, ExcInvPolicy,
	ExcCodesetIncompatible, ExcRebind, ExcTimeout, ExcTransactionUnavailable,
	ExcTransactionMode, ExcBadQoS, ExcInvalidActivity, ExcActivityCompleted,
	ExcActivityRequired, ExcThreadCancelled}

// Standard minor codes this package raises (CORBA 3.0 §4.12.3 and its
// minor code tables). Where the spec has no fitting code the minor is 0.
const (
	// MinorObjectNotExistNoObject is what omniORB also sends for an unknown
	// object key (SPEC.md).
	MinorObjectNotExistNoObject = OMGVMCID | 1
	// MinorBadOperationUnknown: operation or attribute not known to the target.
	MinorBadOperationUnknown = OMGVMCID | 2
	// MinorIntfReposNotAvailable: no Interface Repository (answer to _interface).
	MinorIntfReposNotAvailable = OMGVMCID | 1
	// MinorBadParamWCharNoCodeSet: wchar data but no negotiated wchar code set.
	MinorBadParamWCharNoCodeSet = OMGVMCID | 23
)

const (
	omgExcPrefix = "IDL:omg.org/CORBA/"
	excSuffix    = ":1.0"
)

// SystemException is a CORBA system exception, as a Go error. Use
// errors.As to get one from an error returned by a call.
type SystemException struct {
	// Name is the exception's IDL name, e.g. "OBJECT_NOT_EXIST".
	Name      string
	Minor     uint32
	Completed CompletionStatus

	cause error // why we raised it, for logs; never sent
}

// Unwrap returns the local cause of an exception we raised, if any.
func (e *SystemException) Unwrap() error { return e.cause }

// NewSystemException returns a system exception with the given name, minor
// code and completion status.
func NewSystemException(name string, minor uint32, completed CompletionStatus) *SystemException {
	return &SystemException{Name: name, Minor: minor, Completed: completed}
}

// NewSystemExceptionCause is NewSystemException with a local cause, kept
// for logs and errors.Is but never sent.
func NewSystemExceptionCause(name string, minor uint32, completed CompletionStatus, cause error) *SystemException {
	return &SystemException{Name: name, Minor: minor, Completed: completed, cause: cause}
}

// RepoID returns the repository id that goes on the wire.
func (e *SystemException) RepoID() string { return omgExcPrefix + e.Name + excSuffix }

// Error formats the exception as omniORB's tracing does.
func (e *SystemException) Error() string {
	s := fmt.Sprintf("CORBA::%s minor=0x%08x completed=%s", e.Name, e.Minor, e.Completed)
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Is lets errors.Is match two system exceptions by name alone, so callers
// can test for a kind with errors.Is(err, &giop.SystemException{Name: giop.ExcTransient}).
func (e *SystemException) Is(target error) bool {
	t, ok := target.(*SystemException)
	return ok && t.Name == e.Name && (t.Minor == 0 || t.Minor == e.Minor)
}

// SystemExceptionName returns the name in a standard system exception's
// repository id, or false if the id is not one.
func SystemExceptionName(repoID string) (string, bool) {
	name, ok := strings.CutPrefix(repoID, omgExcPrefix)
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, excSuffix)
	if !ok {
		return "", false
	}
	for _, s := range StandardExceptions {
		if s == name {
			return name, true
		}
	}
	return "", false
}

// WriteSystemException encodes a system exception reply body (§15.4.3.2).
func (e *Encoder) WriteSystemException(x *SystemException) {
	// The id's three parts written in place: RepoID would build a string.
	e.WriteULong(uint32(len(omgExcPrefix) + len(x.Name) + len(excSuffix) + 1))
	e.WriteRawString(omgExcPrefix)
	e.WriteRawString(x.Name)
	e.WriteRawString(excSuffix)
	e.WriteOctet(0)
	e.WriteULong(x.Minor)
	e.WriteULong(uint32(x.Completed))
}

// SystemException decodes a system exception reply body. An id that is not
// a standard exception is kept as UNKNOWN with the id's minor and
// completion, since the spec lets vendors add none.
func (d *Decoder) SystemException() *SystemException {
	id := d.BoundedString(maxRepoIDLen, "exception repository id")
	minor := d.ULong()
	completed := d.ULong()
	if d.err != nil {
		return nil
	}
	if completed > uint32(CompletedMaybe) {
		d.fail("completion status %d", completed)
		return nil
	}
	name, ok := SystemExceptionName(id)
	if !ok {
		name = ExcUnknown
	}
	return &SystemException{Name: name, Minor: minor, Completed: CompletionStatus(completed)}
}
