# The StockManager target in Combat. Prints its IOR (IIOP 1.2 profile,
# 127.0.0.1) on the first line, then one line per call served, before the
# reply goes out, as testdata/nm's stock_server does:
#
#   served add_stock ACME 100.5 -> TRUE
#   served find_closest_symbol ACMA -> TRUE ACME
#   served mix 3 2.5 abc 01020304 -> 11.5 abc! 04030201 10
#
# usage: tclsh stock_server.tcl ?-byteorder big|little? ?-ORB...?

source [file join [file dirname [info script]] common.tcl]

itcl::class StockManager_impl {
    inherit PortableServer::ServantBase

    private variable stocks

    public method _Interface {} {
        return "::StockManager"
    }

    public method add_stock {symbol quote} {
        set new [expr {![info exists stocks($symbol)]}]
        set stocks($symbol) $quote
        puts "served add_stock $symbol $quote -> [expr {$new ? "TRUE" : "FALSE"}]"
        flush stdout
        return $new
    }

    # The stored symbol sharing the longest prefix with symbol (ties: the
    # smallest), TRUE if that prefix is at least one character.
    public method find_closest_symbol {symvar} {
        upvar 1 $symvar symbol
        set best ""
        set n -1
        foreach k [lsort [array names stocks]] {
            set p 0
            while {$p < [string length $k] && $p < [string length $symbol] &&
                   [string index $k $p] eq [string index $symbol $p]} {
                incr p
            }
            if {$p > $n} {
                set best $k
                set n $p
            }
        }
        set asked $symbol
        set found [expr {$n > 0}]
        if {$found} {
            set symbol $best
        }
        puts "served find_closest_symbol $asked -> [expr {$found ? "TRUE" : "FALSE"}] $symbol"
        flush stdout
        return $found
    }

    public method mix {count scale label data echovar revvar sumvar} {
        upvar 1 $echovar echo $revvar reversed $sumvar sum
        set echo "$label!"
        set reversed [string reverse $data]
        set sum 0
        foreach b [split $data ""] {
            incr sum [scan $b %c]
        }
        set result [expr {$count * $scale + [string length $data]}]
        puts "served mix $count $scale $label [hexOf $data] -> $result $echo [hexOf $reversed] $sum"
        flush stdout
        return $result
    }
}

set poa [corba::resolve_initial_references RootPOA]
set mgr [$poa the_POAManager]
set srv [StockManager_impl #auto]
set oid [$poa activate_object $srv]
puts [corba::object_to_string [$poa id_to_reference $oid]]
flush stdout
$mgr activate
vwait forever
