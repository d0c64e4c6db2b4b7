// Package tmpfs mounts small filesystems for tests of what a full disk
// does: a tmpfs of a chosen size, resized at will. It needs root; where a
// run must not skip (CI, REQUESTAGENT_REQUIRE_INTEROP=1) a failure to
// mount fails the test.
package tmpfs
