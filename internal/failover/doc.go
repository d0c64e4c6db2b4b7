// Package failover measures what an unchanged omniORB 4.2.5 C++ client
// does when the server it calls goes away: alternate addresses in a
// reference, LOCATION_FORWARD and its revert, TRANSIENT and COMM_FAILURE
// answers, a server that never answers. The package has tests only; its
// findings, with the figures and the test behind each, are in giop/SPEC.md,
// "omniORB 4.2.5 when a server goes away (measured)", which the cluster
// mode (PRODUCT.md §9) designs against.
//
// Each test starts Go GIOP servers on loopback and testdata/interop's
// failover_client, which calls echoString through the reference it is
// given, one call per line on its stdin, and prints each outcome with its
// elapsed time. The tests assert behaviour — which server answered, how
// many times a request arrived, which exception surfaced — and log the
// timings; they never assert a duration.
package failover
