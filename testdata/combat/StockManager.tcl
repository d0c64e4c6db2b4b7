# StockManager's interface description for Combat, which has no IDL
# compiler: what idl2tcl would make of
#
#   interface StockManager {
#     boolean add_stock(in string symbol, in double quote);
#     boolean find_closest_symbol(inout string symbol);
#     double mix(in long count, in double scale, in string label,
#                in sequence<octet> data,
#                out string echo, out sequence<octet> reversed, out long sum);
#   };
#
# add_stock and find_closest_symbol are testdata/nm/StockManager.idl's;
# mix puts a double after a long each way (so a body off by 4 modulo 8
# shows) and strings and octet sequences around them.

combat::ir add {
  {interface {IDL:StockManager:1.0 StockManager 1.0} {} {
    {operation {IDL:StockManager/add_stock:1.0 add_stock 1.0} boolean
      {{in symbol string} {in quote double}} {}}
    {operation {IDL:StockManager/find_closest_symbol:1.0 find_closest_symbol 1.0} boolean
      {{inout symbol string}} {}}
    {operation {IDL:StockManager/mix:1.0 mix 1.0} double
      {{in count long} {in scale double} {in label string} {in data {sequence octet}}
       {out echo string} {out reversed {sequence octet}} {out sum long}} {}}
  }}
}
