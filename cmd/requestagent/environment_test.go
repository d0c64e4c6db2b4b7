package main

import (
	"slices"
	"testing"
)

func TestStrayEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"REQUESTAGENT_MAX_THREADS=64",               // a flag's
		"REQUESTAGENT_MAX_THREAD=64",                // one letter short
		"REQUESTAGENT_REPLY_DROPING=2",              // one letter short, a property's flag
		"REQUESTAGENT_CLUSTER_LEASE=5s",             // a flag of serve's, set in the environment
		"REQUESTAGENT_PROPERTIES=/etc/a.properties", // the properties file
		"REQUESTAGENT_CRASH_AT=before-send",         // the crash hook, no flag
		"REQUESTAGENT_SERVICE_HOST=10.0.0.7",        // Kubernetes' service links
		"REQUESTAGENT_SERVICE_PORT=14000",
		"REQUESTAGENT_SERVICE_PORT_GIOP=14000",
		"REQUESTAGENT_PORT=tcp://10.0.0.7:14000",
		"REQUESTAGENT_PORT_14000_TCP=tcp://10.0.0.7:14000",
		"REQUESTAGENT_PORT_14000_TCP_ADDR=10.0.0.7",
		"REQUESTAGENT_NOTHING_LIKE_IT=1",
		"REQUESTAGENT_PORTS=1", // not a service link: a stray
		"REQUESTAGENT_",
	}
	got := strayEnv(newApp(), environ)
	want := []strayVar{
		{Name: "REQUESTAGENT_"},
		{Name: "REQUESTAGENT_MAX_THREAD", Near: "REQUESTAGENT_MAX_THREADS"},
		{Name: "REQUESTAGENT_NOTHING_LIKE_IT"},
		{Name: "REQUESTAGENT_PORTS"},
		{Name: "REQUESTAGENT_REPLY_DROPING", Near: "REQUESTAGENT_REPLY_DROPPING"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("strayEnv:\n got %+v\nwant %+v", got, want)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"HOST", "HOTS", 2}, {"same", "same", 0}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
		if got := editDistance(c.b, c.a); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.d)
		}
	}
}
