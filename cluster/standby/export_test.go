package standby

// Held is the number of calls f holds now.
func Held(f *Front) int64 { return f.held.Load() }
