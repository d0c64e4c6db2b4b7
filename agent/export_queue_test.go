package agent

// BlockedInAdmit is how many new requests wait in the delegation queue's
// admit for room (BlockingTimeout): for tests that act while one does.
func BlockedInAdmit(a *Agent) int {
	a.queue.mu.Lock()
	defer a.queue.mu.Unlock()
	return a.queue.blocked
}

// RecordState is the state a stored request record holds, by name.
func RecordState(v []byte) string {
	r, err := decodeRequest(v, nil)
	if err != nil {
		return err.Error()
	}
	return r.state.String()
}

// QueuedEntries is how many requests the agent holds a queue ticket for
// (Agent.queued).
func QueuedEntries(a *Agent) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queued)
}
