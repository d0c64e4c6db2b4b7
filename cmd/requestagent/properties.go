package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/magiconair/properties"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// Agent properties from outside the flags (docs/migrating.md): a
// properties file (--properties) in the Java .properties format, which a
// VisiBroker installation may share with its other services, and
// -Dname=value arguments, VisiBroker's way of setting a property on the
// command line. The flags and their environment variables win over -D
// arguments, which win over the file.
//
// A key is the agent's own when it is prefixed vbroker.requestagent. or
// has no dot at all; it names a flag (VisiBroker's property names —
// maxThreads, maxQueueSize, blockingTimeout, WaitReply, ReplyDropping,
// RequestManualTrash — are flag names). An own key that names no flag is
// an error; any other key (vbroker.agent.port, vbroker.orb.*, …) belongs to
// another service and is logged once and ignored.

// propertyPrefix is VisiBroker's prefix of the request agent's properties.
const propertyPrefix = "vbroker.requestagent."

// definesKey is where main leaves the -D arguments, in cli.App.Metadata.
const definesKey = "defines"

// takeDefines removes the -Dname=value arguments from args and returns
// them; a -D without '=' is an error.
func takeDefines(args []string) (rest []string, defs map[string]string, err error) {
	defs = map[string]string{}
	for i, a := range args {
		if i == 0 || !strings.HasPrefix(a, "-D") || len(a) < 3 {
			rest = append(rest, a)
			continue
		}
		name, value, ok := strings.Cut(a[2:], "=")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("%s: a property is set as -Dname=value", a)
		}
		defs[name] = value
	}
	return rest, defs, nil
}

// readPropertiesFile reads a Java .properties file: name = value, name:
// value or name value; continuation lines; \uXXXX and the other escapes;
// comments with # or !. ${...} is not expanded (Java does not).
//
// Java reads them as ISO-8859-1; a file that starts with a UTF-8 byte
// order mark (editors on Windows write one) is read as UTF-8 without it,
// rather than making the mark part of the first key, which would then be
// ignored as another service's.
func readPropertiesFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := properties.Loader{Encoding: properties.ISO_8859_1, DisableExpansion: true}
	if rest, ok := bytes.CutPrefix(b, []byte("\xef\xbb\xbf")); ok {
		b, l.Encoding = rest, properties.UTF8
	}
	p, err := l.LoadBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p.Map(), nil
}

// applyProperties sets the flags the properties name, unless the command
// line or the environment set them. source names where they came from,
// for errors and logs.
func applyProperties(c *cli.Context, props map[string]string, source string, log zerolog.Logger) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		name, own := strings.CutPrefix(key, propertyPrefix)
		if !own && !strings.Contains(key, ".") {
			own = true
		}
		if !own {
			log.Info().Str("property", key).Str("from", source).Msg("requestagent: not a request agent property; ignored")
			continue
		}
		f, flag := findFlag(c, name)
		if f == nil {
			return badFlag("properties", fmt.Sprintf("%s: unknown request agent property %q", source, key))
		}
		// What is set already — by a flag, its environment variable, or
		// a -D argument applied before the file — wins.
		if c.IsSet(flag) {
			continue
		}
		if err := c.Set(flag, props[key]); err != nil {
			return badFlag("properties", fmt.Sprintf("%s: %s = %q: %v", source, key, props[key], err))
		}
	}
	return nil
}
