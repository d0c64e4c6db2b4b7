// Command etcd is etcd's own server, built from the etcd module this
// repository already depends on (go.etcd.io/etcd/server/v3, etcdmain), so
// that tests can run etcd members as processes of their own — and SIGKILL
// them — with nothing to install. It takes etcd's flags.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
