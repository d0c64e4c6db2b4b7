# Shared by the Combat peers: loads Combat and the StockManager interface,
# and takes the options every peer has.
#
#   -byteorder big|little   marshal in that order (Combat uses the
#                           platform's unless told)
#
# The remaining arguments, after corba::init has taken its -ORB ones, are
# left in ::argv.

package require combat

set order ""
set rest {}
for {set i 0} {$i < [llength $argv]} {incr i} {
    set a [lindex $argv $i]
    if {$a eq "-byteorder"} {
        incr i
        set order [lindex $argv $i]
    } else {
        lappend rest $a
    }
}
switch -- $order {
    big    { set ::tcl_platform(byteOrder) bigEndian }
    little { set ::tcl_platform(byteOrder) littleEndian }
    ""     {}
    default { puts "FAIL: -byteorder $order"; exit 1 }
}

# Combat listens on every interface; the peers listen on loopback only.
itcl::body ::Combat::IIOP::TCPServer::listen {{myport 0}} {
    set sock [socket -server Combat::IIOP::TCPServer::accept -myaddr 127.0.0.1 $myport]
    set name [fconfigure $sock -sockname]
    set host $::Combat::CORBA::ORB::hostname
    set port [lindex $name 2]
}

set argv [eval corba::init -ORBHostName 127.0.0.1 $rest]
source [file join [file dirname [info script]] StockManager.tcl]

# hexOf returns the octets of a binary string in hex.
proc hexOf {bytes} {
    binary scan $bytes H* h
    return $h
}
