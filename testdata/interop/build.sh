#!/usr/bin/env bash
# Build the omniORB interop peers into OUTDIR:
#   testdata/interop/build.sh OUTDIR
# -> OUTDIR/{echo_server,echo_client,bidir_server,bidir_client,failover_client}
source "$(dirname "$0")/../peers.sh"
peers_init "$@"

idl_stubs "$SRC/demo.idl"
compile "$OUT/demoSK.o" "$OUT/demoSK.cc" "$OUT/demo.hh"
for prog in echo_server echo_client bidir_server bidir_client failover_client; do
  link "$prog" "$OUT/demoSK.o" -- "$OUT/demo.hh"
done
