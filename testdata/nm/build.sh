#!/usr/bin/env bash
# Build the omniORB Native Messaging peers (the Native Messaging documents' examples) into OUTDIR:
#   testdata/nm/build.sh OUTDIR
# -> OUTDIR/{stock_server,polling_client,group_client,waitreply_client,recipient_client},
# with the stubs of StockManager.idl and ../../idl/NativeMessaging.idl.
source "$(dirname "$0")/../peers.sh"
peers_init "$@"

NMIDL="$ROOT/idl/NativeMessaging.idl"
idl_stubs "$SRC/StockManager.idl"
idl_stubs "$NMIDL"
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"
compile "$OUT/NativeMessagingSK.o" "$OUT/NativeMessagingSK.cc" "$OUT/NativeMessaging.hh"
compile "$OUT/nm_current.o" "$SRC/nm_current.cc" "$SRC/nm_current.hh" "$OUT/NativeMessaging.hh"

STUBS=("$OUT/StockManagerSK.o" "$OUT/NativeMessagingSK.o")
HEADERS=("$SRC/nm_current.hh" "$SRC/demo_util.hh" "$OUT/StockManager.hh" "$OUT/NativeMessaging.hh")
link stock_server "${STUBS[@]}" -- "${HEADERS[@]}"
link polling_client "${STUBS[@]}" -- "${HEADERS[@]}"
# Only the NM-aware clients use the Current and its interceptors.
link group_client "${STUBS[@]}" "$OUT/nm_current.o" -- "${HEADERS[@]}"
link waitreply_client "${STUBS[@]}" "$OUT/nm_current.o" -- "${HEADERS[@]}"
link recipient_client "${STUBS[@]}" "$OUT/nm_current.o" -- "${HEADERS[@]}"

# The group client again, compiled against NativeMessaging.idl under a
# #pragma prefix, as applications compiled against VisiBroker's IDL are:
# OUTDIR/vendor/group_client, for the agent's repository-id prefix setting.
VOUT="$OUT/vendor"
mkdir -p "$VOUT"
if stale "$VOUT/NativeMessaging.idl" "$NMIDL"; then
  { echo '#pragma prefix "vendor.example"'; cat "$NMIDL"; } >"$VOUT/NativeMessaging.idl"
fi
BASE_OUT=$OUT
OUT=$VOUT
idl_stubs "$SRC/StockManager.idl"
idl_stubs "$VOUT/NativeMessaging.idl"
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"
compile "$OUT/NativeMessagingSK.o" "$OUT/NativeMessagingSK.cc" "$OUT/NativeMessaging.hh"
compile "$OUT/nm_current.o" "$SRC/nm_current.cc" "$SRC/nm_current.hh" "$OUT/NativeMessaging.hh"
link group_client "$OUT/StockManagerSK.o" "$OUT/NativeMessagingSK.o" "$OUT/nm_current.o" -- \
  "$SRC/nm_current.hh" "$SRC/demo_util.hh" "$OUT/StockManager.hh" "$OUT/NativeMessaging.hh"
OUT=$BASE_OUT
