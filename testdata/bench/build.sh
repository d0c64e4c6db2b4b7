#!/usr/bin/env bash
# Build the omniORB clients of `make bench` (tools/benchsuite) into OUTDIR:
#   testdata/bench/build.sh OUTDIR
# -> OUTDIR/{ami_client,nm_bench_client,nm_bench_client_tls}
# Both call Demo::Echo (../interop/demo.idl, served by ../interop/echo_server),
# whose stubs are compiled here with -Wbami (sendc_/sendp_ and the pollers).
# nm_bench_client also links the shipped Native Messaging runtime
# (clients/cpp, built into OUTDIR/../cpp), which holds the NativeMessaging
# stubs. nm_bench_client_tls is nm_bench_client linked with omniORB's SSL
# transport and ../tls/ssl_init.cc (the TLS rows).
source "$(dirname "$0")/../peers.sh"
peers_init "$@"
nm_library

DEMOIDL="$ROOT/testdata/interop/demo.idl"
idl_stubs "$DEMOIDL" -Wbami
compile "$OUT/demoSK.o" "$OUT/demoSK.cc" "$OUT/demo.hh"

link ami_client "$OUT/demoSK.o" -- "$OUT/demo.hh" "$SRC/bench_util.hh"
link nm_bench_client "$OUT/demoSK.o" "$NMLIB" -- "$OUT/demo.hh" "$SRC/bench_util.hh"

OMNI_FLAGS="$OMNI_FLAGS -lomnisslTP4 -lssl -lcrypto"
compile "$OUT/ssl_init.o" "$ROOT/testdata/tls/ssl_init.cc"
link nm_bench_client_tls "$OUT/demoSK.o" "$OUT/ssl_init.o" "$NMLIB" -- "$OUT/demo.hh" "$SRC/bench_util.hh" "$SRC/nm_bench_client.cc"
