package main

import (
	"runtime/debug"
	"strings"
)

// The release, its commit and the commit's date, set by scripts/build.sh
// (-ldflags -X); a plain go build leaves them empty, and buildInfo then
// reads what Go stamped into the binary, if anything.
var version, commit, date = "dev", "", ""

// buildInfo returns the commit and its date.
func buildInfo() (string, string) {
	if commit != "" {
		return commit, date
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", "unknown"
	}
	commit, date := "unknown", "unknown"
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if dirty {
		commit += "+dirty"
	}
	return commit, date
}

// versionString is what --version prints: the release, the commit and
// its date, and the Go release that built it.
func versionString() string {
	commit, date := buildInfo()
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	return strings.Join([]string{version, "(commit " + commit + ", " + date + ", " + goVersion + ")"}, " ")
}
