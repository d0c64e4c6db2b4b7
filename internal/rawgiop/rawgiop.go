// Package rawgiop writes GIOP messages byte by byte, as a hostile or
// careless peer would, for the tests that attack a GIOP server: the
// giop package's own and the attacks on the real binary
// (internal/attacks).
package rawgiop

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// Header returns a GIOP header of the given version, flags (bit 0: little
// endian; bit 1: more fragments), message type and declared body size,
// whatever it claims.
func Header(major, minor, flags byte, t giop.MsgType, size uint32) []byte {
	b := []byte{'G', 'I', 'O', 'P', major, minor, flags, byte(t), 0, 0, 0, 0}
	if flags&1 != 0 {
		binary.LittleEndian.PutUint32(b[8:], size)
	} else {
		binary.BigEndian.PutUint32(b[8:], size)
	}
	return b
}

// FragmentChains writes chains legal GIOP 1.2 fragment chains of about
// 2 MiB each (a 64 KiB Request with MORE_FRAGMENTS, then 31 Fragments of
// 64 KiB, the last never sent) and reports whether all were written.
func FragmentChains(nc net.Conn, chains int) bool {
	const part = 64 << 10
	first := Header(1, 2, 3, giop.MsgRequest, part-giop.HeaderSize)
	first = append(first, make([]byte, part-giop.HeaderSize)...)
	frag := Header(1, 2, 3, giop.MsgFragment, part-giop.HeaderSize)
	frag = append(frag, make([]byte, part-giop.HeaderSize)...)
	nc.SetWriteDeadline(time.Now().Add(time.Minute))
	for i := range chains {
		id := uint32(2*i + 1)
		binary.LittleEndian.PutUint32(first[giop.HeaderSize:], id)
		binary.LittleEndian.PutUint32(frag[giop.HeaderSize:], id)
		if _, err := nc.Write(first); err != nil {
			return false
		}
		for range 31 {
			if _, err := nc.Write(frag); err != nil {
				return false
			}
		}
	}
	return true
}

// Locate sends a LocateRequest of version v for key on nc and reads the
// LocateReply: its status and, for LOC_SYSTEM_EXCEPTION, the exception
// in its body.
func Locate(nc net.Conn, v giop.Version, id uint32, key []byte) (giop.LocateStatus, *giop.SystemException, error) {
	st, x, _, err := LocateForward(nc, v, id, key)
	return st, x, err
}

// LocateForward is Locate that also returns the reference an
// OBJECT_FORWARD (or OBJECT_FORWARD_PERM) reply carries.
func LocateForward(nc net.Conn, v giop.Version, id uint32, key []byte) (giop.LocateStatus, *giop.SystemException, *giop.IOR, error) {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(giop.NewEncoder(v, false).EncodeLocateRequest(v, id, key)); err != nil {
		return 0, nil, nil, err
	}
	buf := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(nc, buf); err != nil {
		return 0, nil, nil, err
	}
	h, err := giop.ParseHeader(buf)
	if err != nil {
		return 0, nil, nil, err
	}
	if h.Type != giop.MsgLocateReply || h.Size > 1<<16 {
		return 0, nil, nil, fmt.Errorf("rawgiop: %v of %d bytes, want a LocateReply", h.Type, h.Size)
	}
	buf = append(buf, make([]byte, h.Size)...)
	if _, err := io.ReadFull(nc, buf[giop.HeaderSize:]); err != nil {
		return 0, nil, nil, err
	}
	lh, d, err := giop.DecodeLocateReply(&giop.Message{Header: h, Buf: buf})
	if err != nil {
		return 0, nil, nil, err
	}
	if lh.RequestID != id {
		return 0, nil, nil, fmt.Errorf("rawgiop: LocateReply for request %d, want %d", lh.RequestID, id)
	}
	switch lh.Status {
	case giop.LocSystemException:
		x := d.SystemException()
		return lh.Status, x, nil, d.Err()
	case giop.ObjectForward, giop.ObjectForwardPerm:
		ior := d.IOR()
		return lh.Status, nil, ior, d.Err()
	}
	return lh.Status, nil, nil, nil
}
