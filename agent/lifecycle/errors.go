package lifecycle

import "errors"

// ErrNotApplicable is Step's answer to an event that does not apply to the
// request's state: a dispatch of a request trashed while it waited, a
// callback attempt for a reply already read, a second first call. The
// shell then does nothing, which is always what such a late event means.
var ErrNotApplicable = errors.New("lifecycle: event not applicable in this state")
