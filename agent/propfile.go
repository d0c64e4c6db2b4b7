package agent

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ReadPropertiesFile reads an agent properties file: one "name = value" (or
// "name: value") per line, '#' and '!' start comments, as in Java and
// VisiBroker properties files. The names are the agent property names
// (maxThreads, maxQueueSize, blockingTimeout, WaitReply, ReplyDropping,
// RequestManualTrash, …); the caller decides which it accepts. Errors carry
// file:line.
func ReadPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props := make(map[string]string)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%s:%d: expected name = value, found %q", path, n, line)
		}
		name, value := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		// VisiBroker spells them vbroker.requestagent.maxThreads.
		name = strings.TrimPrefix(name, "vbroker.requestagent.")
		props[name] = value
	}
	return props, sc.Err()
}
