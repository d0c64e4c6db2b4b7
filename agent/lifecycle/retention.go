package lifecycle

// Retention is how long requests are kept, in nanoseconds; 0 keeps them.
type Retention struct {
	// Reply: an unread reply (Replied, Calling, Delivered), from when it was
	// stored or recovered.
	Reply int64
	// Created: a request object never invoked, from its creation.
	Created int64
}

// Expired reports whether the retentions trash r at now (Unix
// nanoseconds), and why, in words for the log.
func Expired(r Request, now int64, keep Retention) (bool, string) {
	switch {
	case keep.Reply > 0 && r.State.replied() && r.RepliedAt < now-keep.Reply:
		return true, "unread reply expired"
	case keep.Created > 0 && r.State == Created && r.Created < now-keep.Created:
		return true, "request never invoked expired"
	}
	return false, ""
}
