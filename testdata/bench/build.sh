#!/usr/bin/env bash
# Build the omniORB clients of `make bench` (internal/benchsuite) into OUTDIR:
#   testdata/bench/build.sh OUTDIR
# -> OUTDIR/{ami_client,nm_bench_client}
# Both call Demo::Echo (../interop/demo.idl, served by ../interop/echo_server),
# whose stubs are compiled here with -Wbami (sendc_/sendp_ and the pollers).
# nm_bench_client also links the NativeMessaging stubs (../../idl) and
# ../nm/nm_current.
source "$(dirname "$0")/../peers.sh"
peers_init "$@"

DEMOIDL="$ROOT/testdata/interop/demo.idl"
NMIDL="$ROOT/idl/NativeMessaging.idl"
NMDIR="$ROOT/testdata/nm"
idl_stubs "$DEMOIDL" -Wbami
idl_stubs "$NMIDL"
compile "$OUT/demoSK.o" "$OUT/demoSK.cc" "$OUT/demo.hh"
compile "$OUT/NativeMessagingSK.o" "$OUT/NativeMessagingSK.cc" "$OUT/NativeMessaging.hh"
compile "$OUT/nm_current.o" "$NMDIR/nm_current.cc" "$NMDIR/nm_current.hh" "$OUT/NativeMessaging.hh"

link ami_client "$OUT/demoSK.o" -- "$OUT/demo.hh" "$SRC/bench_util.hh"
link nm_bench_client "$OUT/demoSK.o" "$OUT/NativeMessagingSK.o" "$OUT/nm_current.o" -- \
  "$OUT/demo.hh" "$OUT/NativeMessaging.hh" "$NMDIR/nm_current.hh" "$SRC/bench_util.hh"
