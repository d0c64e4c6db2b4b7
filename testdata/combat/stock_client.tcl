# A plain Combat client of the request agent (no NMService context): it
# calls three request objects made by create_request for a StockManager
# target. The first call on each sends the request; the agent answers
# NO_RESPONSE/REPLY_NOT_AVAILABLE until the reply is there, and later calls
# (every 20 ms, at most 500) pull it. Prints one line per result and PASS:
#
#   add_stock ACME 100.5 -> TRUE
#   find_closest_symbol ACMA -> TRUE ACME
#   mix 3 2.5 abc 01020304 -> 11.5 abc! 04030201 10
#   PASS
#
# or FAIL: <what>, exit 1. The GIOP version is the IIOP version of the
# references given.
#
# usage: tclsh stock_client.tcl ?-byteorder big|little? ADD FIND ?MIX?
#   (stringified IORs of request objects for the operations; without MIX,
#   for a target that has only testdata/nm's two, mix is not called)

source [file join [file dirname [info script]] common.tcl]

if {[llength $argv] != 2 && [llength $argv] != 3} {
    puts "FAIL: usage: stock_client.tcl ?-byteorder big|little? ADD FIND ?MIX?"
    exit 1
}
lassign $argv addRef findRef mixRef

# REPLY_NOT_AVAILABLE: NativeMessaging's NM_VMCID (0x4E4D0000) | 1.
set rna [expr {0x4E4D0001}]

# call invokes a request object until it answers with the real result:
# script runs in the caller's frame (so out and inout variables are
# there) and its value is returned.
proc call {what script} {
    global rna
    for {set i 0} {$i < 500} {incr i} {
        if {![catch {uplevel 1 $script} res]} {
            return $res
        }
        set id [lindex $res 0]
        set fields [lindex $res 1]
        if {$id ne "IDL:omg.org/CORBA/NO_RESPONSE:1.0" ||
            ![dict exists $fields minor_code_value] ||
            [dict get $fields minor_code_value] != $rna} {
            puts "FAIL: $what raised $res"
            exit 1
        }
        after 20
    }
    puts "FAIL: $what: no reply after 500 tries"
    exit 1
}

proc bool {b} { return [expr {$b ? "TRUE" : "FALSE"}] }

set add [corba::string_to_object $addRef]
set r [call add_stock {$add add_stock ACME 100.5}]
puts "add_stock ACME 100.5 -> [bool $r]"

set find [corba::string_to_object $findRef]
set sym ACMA
set r [call find_closest_symbol {$find find_closest_symbol sym}]
puts "find_closest_symbol ACMA -> [bool $r] $sym"

if {$mixRef ne ""} {
    set mix [corba::string_to_object $mixRef]
    set data [binary format c* {1 2 3 4}]
    set r [call mix {$mix mix 3 2.5 abc $data echo reversed sum}]
    puts "mix 3 2.5 abc [hexOf $data] -> $r $echo [hexOf $reversed] $sum"
}

puts PASS
exit 0
