// Command stockmanager is Native Messaging's StockManager target in Go, the
// counterpart of the omniORB testdata/nm/stock_server: it prints its IOR
// on the first line, then one line per call served, before replying.
//
//	go run ./examples/stockmanager [-listen 127.0.0.1:21000]
//
// It is reachable as corbaloc:iiop:1.2@HOST:PORT/StockManager, the
// examples' default target. add_stock returns TRUE for a new symbol (a
// symbol SLOW<N> makes it take N ms); find_closest_symbol replaces its
// inout symbol with the stored one sharing the longest prefix. SIGINT or
// SIGTERM stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/requestagent/requestagent/examples/stock"
)

func main() {
	listen := flag.String("listen", stock.DefaultListen, "TCP address to serve on")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "stockmanager:", err)
		os.Exit(1)
	}
}

func run(listen string) error {
	m, err := stock.NewManager(os.Stdout)
	if err != nil {
		return err
	}
	srv, err := stock.Serve(listen, m)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, srv.IOR())
	fmt.Fprintln(os.Stderr, "stockmanager: serving", srv.Corbaloc())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
