package stock

import "time"

// Defaults of the example programs: the agent of `make run`, and the
// StockManager of examples/stockmanager (or of the omniORB stock_server
// started with -ORBendPoint giop:tcp:127.0.0.1:21000), whose object key
// ObjectKey makes it reachable by corbaloc.
const (
	DefaultAgent  = "corbaloc:iiop:1.2@127.0.0.1:5555/RequestAgent"
	DefaultListen = "127.0.0.1:21000"
	DefaultTarget = "corbaloc:iiop:1.2@127.0.0.1:21000/StockManager"
	// DefaultTimeout bounds a whole example program.
	DefaultTimeout = 60 * time.Second
)

// Bool formats a boolean as the IDL and the C++ examples print it.
func Bool(b any) string {
	if b == true {
		return "TRUE"
	}
	return "FALSE"
}
