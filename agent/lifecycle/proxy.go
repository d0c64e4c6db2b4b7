package lifecycle

// ProxyState is where a request proxy is in its life.
type ProxyState uint8

const (
	// ProxyNew: create_request_proxy checked it, not stored yet.
	ProxyNew ProxyState = iota
	// ProxyLive: stored and serving.
	ProxyLive
	// ProxyDying: destroyed ("to be destroyed"), kept until its last
	// request is gone; its receiver refuses new requests.
	ProxyDying
	// ProxyGone: deleted.
	ProxyGone
)

var proxyStateNames = [...]string{ProxyNew: "new", ProxyLive: "live", ProxyDying: "dying", ProxyGone: "gone"}

// String is the proxy state's name.
func (s ProxyState) String() string { return name(proxyStateNames[:], s, "proxy-state") }

// ProxyEventKind names what happened to a proxy.
type ProxyEventKind uint8

const (
	// ProxyCreate: create_request_proxy.
	ProxyCreate ProxyEventKind = iota
	// ProxyDestroy: destroy(FALSE), or destroy(TRUE) once its requests
	// are trashed, or requestagent destroy.
	ProxyDestroy
	// ProxyReap: one of its requests left, or recovery found it dying;
	// ProxyEvent.Empty says whether its group is now empty.
	ProxyReap
)

// ProxyEvent is one thing that happened to a proxy.
type ProxyEvent struct {
	Kind ProxyEventKind
	// Empty (ProxyReap): the proxy has no live request left.
	Empty bool
}

// StepProxy is a proxy's move on an event, as Step is a request's. The
// proxy's own effects are Write and Delete of ProxyKey, Publish and
// Forget.
func StepProxy(s ProxyState, ev ProxyEvent) (ProxyState, Transition, error) {
	var t Transition
	switch ev.Kind {
	case ProxyCreate:
		if s == ProxyNew {
			// Stored before anything can find it.
			t.add(write(ProxyKey), do(Publish))
			return ProxyLive, t, nil
		}
	case ProxyDestroy:
		if s == ProxyLive {
			t.add(write(ProxyKey))
			return ProxyDying, t, nil
		}
	case ProxyReap:
		if s == ProxyDying && ev.Empty {
			// Out of memory first: a crash before the deletion leaves it
			// dying, and recovery reaps it.
			t.add(do(Forget), del(ProxyKey))
			return ProxyGone, t, nil
		}
	}
	return s, t, ErrNotApplicable
}
