package poller

import "errors"

// Sentinel errors of the poller package.
var (
	// ErrDuplicateTag means a live request of the group already has the tag.
	ErrDuplicateTag = errors.New("poller: request tag already used in the polling group")
	// ErrGroupEmpty means the polling group holds no live request.
	ErrGroupEmpty = errors.New("poller: polling group is empty")
	// ErrUnknownRequest means no live request has that id or tag.
	ErrUnknownRequest = errors.New("poller: no such request")
)
