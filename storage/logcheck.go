package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
)

// This file checks Badger's logs before Badger opens them. Badger replays
// a memtable log (.mem) and the newest value log (.vlog) up to the first
// entry that does not decode or whose CRC does not match, and cuts the file
// there without a word (memtable.go, logFile.iterate). That is right for the
// torn tail a crash leaves, and wrong for a damaged byte in the middle: what
// follows it is acknowledged, and would be lost. So each log is read here
// first, the way Badger reads it, and what follows the point where Badger
// would stop is classified: zeroes (a clean end), the torn remains of the
// one write in flight at the crash (ignored: it was never acknowledged), or
// anything else (ErrCorrupt). The rules are in doc.go, "Corruption".

// Badger's log format (v4.9.6, memtable.go, structs.go, value.go): a 20-byte
// file header (encryption key id, IV), then entries of
// | meta | userMeta | uvarint klen | uvarint vlen | uvarint expiresAt | key | value | crc32c |
// where the key ends in an 8-byte version (MaxUint64 - commit ts, big
// endian). A transaction's entries carry bitTxn and are followed by a
// commit entry (bitFinTxn, key "!badger!txn"+version, value the decimal
// commit ts). Everything after the last entry is zeroes: the file is
// preallocated (truncated to twice its target size) and Badger zeroes the
// next header after every write.
const (
	logHeaderSize   = 20      // Badger's vlogHeaderSize
	maxEntryHeader  = 22      // Badger's maxHeaderSize
	maxKeySize      = 1 << 16 // Badger's replay treats a longer key as the end
	bitValuePointer = 1 << 1
	bitTxn          = 1 << 6
	bitFinTxn       = 1 << 7
	vptrSize        = 12 // Fid, Len, Offset: uint32 each, native byte order
)

var (
	txnKey     = []byte("!badger!txn")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// logEntry is one decoded log entry.
type logEntry struct {
	meta     byte
	key, val []byte
	size     int // encoded length, header and CRC included
}

// decodeHeader decodes the entry header at off: meta, lengths, header size.
// ok is false if the header runs past the end of data or a varint is bad.
func decodeHeader(data []byte, off int) (meta byte, klen, vlen uint64, hlen int, ok bool) {
	if off+2 > len(data) {
		return 0, 0, 0, 0, false
	}
	meta = data[off]
	p := off + 2
	var n int
	if klen, n = binary.Uvarint(data[p:]); n <= 0 {
		return 0, 0, 0, 0, false
	}
	p += n
	if vlen, n = binary.Uvarint(data[p:]); n <= 0 {
		return 0, 0, 0, 0, false
	}
	p += n
	if _, n = binary.Uvarint(data[p:]); n <= 0 {
		return 0, 0, 0, 0, false
	}
	p += n
	return meta, klen, vlen, p - off, true
}

// decodeEntry decodes the entry at off as Badger's replay does
// (safeRead.Entry): ok is false where Badger would stop — header past the
// end, key too long, key or value or CRC past the end, CRC mismatch, or an
// empty key.
func decodeEntry(data []byte, off int) (logEntry, bool) {
	meta, klen, vlen, hlen, ok := decodeHeader(data, off)
	if !ok || klen > maxKeySize || vlen > uint64(len(data)) {
		return logEntry{}, false
	}
	end := uint64(off) + uint64(hlen) + klen + vlen
	if end+crc32.Size > uint64(len(data)) {
		return logEntry{}, false
	}
	if crc32.Checksum(data[off:end], castagnoli) != binary.BigEndian.Uint32(data[end:]) {
		return logEntry{}, false
	}
	kStart := off + hlen
	e := logEntry{
		meta: meta,
		key:  data[kStart : kStart+int(klen)],
		val:  data[kStart+int(klen) : end],
		size: int(end) + crc32.Size - off,
	}
	if len(e.key) == 0 {
		return logEntry{}, false
	}
	return e, true
}

// keyTs is Badger's y.ParseTs.
func keyTs(key []byte) uint64 {
	if len(key) <= 8 {
		return 0
	}
	return math.MaxUint64 - binary.BigEndian.Uint64(key[len(key)-8:])
}

// valuePtr is a replayed entry's pointer into a value log.
type valuePtr struct {
	key              []byte // with its version
	fid, offset, end uint32
}

// walk is the result of reading a log the way Badger replays it.
type walk struct {
	// end is where Badger's replay ends (and where it truncates the file):
	// after the last complete transaction or stand-alone entry.
	end int
	// stop is the first entry that does not decode, or the entry that
	// broke a transaction's rules; stop >= end. The entries between end
	// and stop are those of a transaction without its commit entry.
	stop int
	// broken says why the replay stopped at stop when the entry there
	// decodes but breaks a transaction's rules ("" when it does not decode).
	broken string
	// openTs is the commit ts of the transaction left open at stop (0 if
	// none).
	openTs uint64
	// ptrs are the value pointers of the replayed entries.
	ptrs []valuePtr
	// firstTs and lastTs are the commit ts of the first and the last
	// transaction replayed (0 if none).
	firstTs, lastTs uint64
}

// walkLog reads data (a whole log file) as Badger's logFile.iterate does.
func walkLog(data []byte) walk {
	w := walk{end: logHeaderSize, stop: logHeaderSize}
	var lastCommit uint64
	var pending []valuePtr
	off := logHeaderSize
	for {
		e, ok := decodeEntry(data, off)
		if !ok {
			w.stop = off
			break
		}
		next := off + e.size
		switch {
		case e.meta&bitTxn != 0:
			ts := keyTs(e.key)
			if lastCommit == 0 {
				lastCommit = ts
			}
			if lastCommit != ts {
				w.stop, w.broken = off, "an entry of another transaction before this one's commit"
				w.openTs = lastCommit
				return w
			}
			if p, ok := entryPtr(e); ok {
				pending = append(pending, p)
			}
		case e.meta&bitFinTxn != 0:
			ts, err := strconv.ParseUint(string(e.val), 10, 64)
			if err != nil || lastCommit != ts {
				w.stop, w.broken = off, "a commit entry that matches no open transaction"
				w.openTs = lastCommit
				return w
			}
			lastCommit = 0
			if w.firstTs == 0 {
				w.firstTs = ts
			}
			w.lastTs = ts
			w.end = next
			w.ptrs = append(w.ptrs, pending...)
			pending = pending[:0]
		default:
			if lastCommit != 0 {
				w.stop, w.broken = off, "an entry outside any transaction before the open one's commit"
				w.openTs = lastCommit
				return w
			}
			w.end = next
			if p, ok := entryPtr(e); ok {
				w.ptrs = append(w.ptrs, p)
			}
		}
		off = next
	}
	w.openTs = lastCommit
	return w
}

// entryPtr returns the value pointer an entry holds instead of its value.
func entryPtr(e logEntry) (valuePtr, bool) {
	if e.meta&bitValuePointer == 0 || len(e.val) != vptrSize {
		return valuePtr{}, false
	}
	fid := binary.NativeEndian.Uint32(e.val[0:])
	n := binary.NativeEndian.Uint32(e.val[4:])
	off := binary.NativeEndian.Uint32(e.val[8:])
	// The key is copied: the log's mapping is gone once checkLog returns.
	return valuePtr{key: bytes.Clone(e.key), fid: fid, offset: off, end: off + n}, true
}

// finEntry encodes the commit entry Badger writes for a transaction at ts
// (txn.go, commitAndSend; memtable.go, encodeEntry).
func finEntry(ts uint64) []byte {
	key := binary.BigEndian.AppendUint64(append([]byte(nil), txnKey...), math.MaxUint64-ts)
	val := strconv.AppendUint(nil, ts, 10)
	b := []byte{bitFinTxn, 0}
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = binary.AppendUvarint(b, uint64(len(val)))
	b = binary.AppendUvarint(b, 0)
	b = append(append(b, key...), val...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// findCommit returns the offset of the first complete, valid commit entry
// in data[from:to], or -1. Its header is always 5 bytes (meta, userMeta,
// one-byte key and value lengths, expiresAt 0), so each occurrence of
// "!badger!txn" is tried as the key of the entry 5 bytes before it.
func findCommit(data []byte, from, to int) int {
	for i := from; i < to; {
		j := bytes.Index(data[i:to], txnKey)
		if j < 0 {
			return -1
		}
		at := i + j - 5
		if at >= from {
			if e, ok := decodeEntry(data, at); ok && e.meta&bitFinTxn != 0 {
				return at
			}
		}
		i += j + 1
	}
	return -1
}

// logState is what checkLog found in one log file.
type logState struct {
	name string // file name in the data directory
	size int64
	// end is where Badger's replay will cut the file.
	end int64
	// damage says what is wrong ("" when nothing is), at offset at.
	damage string
	at     int64
	// torn is the length of the torn tail of the write in flight at a
	// crash, which Badger drops and which was never acknowledged.
	torn int64
	// ptrs are the value pointers of the entries Badger will replay (.mem).
	ptrs []valuePtr
	// id tells this file from an earlier one of the same name: its
	// header's 12 random bytes (the encryption IV, drawn even when
	// nothing is encrypted). Badger reuses names: with no memtable log
	// left, the next one is 00001.mem again.
	id string
	// empty: the file is empty. firstTs and lastTs are walk's.
	empty           bool
	firstTs, lastTs uint64
	// leftover says why an empty memtable log is one Badger had flushed
	// and was deleting (it is removed before Badger opens); "" if not.
	leftover string
}

// checkLog classifies one log file. current says whether it is the log
// Badger was writing (the newest .mem or .vlog): only that one may end in a
// torn write. rec is the record of the file of that name (the zero logEnd
// if none): where Badger's replay last cut it, if it is the same file.
// wal says whether it is a memtable log, whose transactions end in commit
// entries; prealloc holds the sizes Badger gives a new one (twice
// MemTableSize, memtable.go, openMemTable: the sizes this store was
// opened with, memSizesFile).
func checkLog(path string, current bool, rec logEnd, wal bool, prealloc []int64) (logState, error) {
	st := logState{name: filepath.Base(path), at: -1}
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, err
	}
	st.size = fi.Size()
	bad := func(at int64, format string, a ...any) (logState, error) {
		st.damage, st.at = fmt.Sprintf(format, a...), at
		return st, nil
	}
	switch {
	case st.size == 0:
		// Badger sizes a new log right after creating it, before writing
		// anything, and empties a flushed one before removing it: checkDir
		// tells whether this one was flushed (leftoverLog).
		st.empty = true
		return bad(0, "the file is empty")
	case st.size < logHeaderSize:
		return bad(0, "the file is %d bytes, shorter than its %d-byte header", st.size, logHeaderSize)
	case st.size > math.MaxInt32*2:
		return bad(0, "the file is %d bytes, longer than Badger writes", st.size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return st, fmt.Errorf("storage: read %s: %w", path, err)
	}
	defer syscall.Munmap(data)

	st.id = fmt.Sprintf("%x", data[8:logHeaderSize])
	if id := binary.BigEndian.Uint64(data); id != 0 {
		return bad(0, "its header names encryption key %d, and this store is not encrypted", id)
	}
	recorded := int64(-1)
	if rec.id == st.id {
		recorded = rec.end
	}
	w := walkLog(data)
	st.end = int64(w.end)
	st.firstTs, st.lastTs = w.firstTs, w.lastTs
	if wal {
		st.ptrs = w.ptrs
	}
	dataEnd := int64(lastNonZero(f, data) + 1)
	if wal && !slices.Contains(prealloc, st.size) && st.size != recorded {
		// A crash never shrinks a memtable log: Badger creates it at its
		// full size and only its own replay cuts it, which is recorded
		// (doc.go, "Corruption"). Any other size was cut by something
		// else, and what it held past the cut is lost — even where the
		// remains would pass for a torn write.
		if recorded >= 0 {
			return bad(st.size, "the file is %d bytes, neither the %d Badger creates it with nor the %d its replay kept: it was cut short", st.size, prealloc[0], recorded)
		}
		return bad(st.size, "the file is %d bytes, not the %d Badger creates it with (twice MemTableSize), and Badger never replayed it: it was cut short", st.size, prealloc[0])
	}
	if recorded >= 0 {
		switch {
		case st.size < recorded:
			return bad(st.size, "the file is %d bytes, shorter than the %d Badger kept when it last replayed it", st.size, recorded)
		case st.end < recorded:
			return bad(st.end, "an entry before the end Badger kept when it last replayed the file (%d) does not decode or fails its CRC", recorded)
		}
		if st.size == recorded && dataEnd <= st.end {
			return st, nil
		}
	}
	if dataEnd <= st.end {
		if st.end == st.size && wal {
			// A memtable log ends in preallocated zeroes; only Badger's
			// replay cuts one at its last entry, and that is recorded.
			// (Badger's Close cuts the value log at its last entry too,
			// so there this proves nothing.)
			return bad(st.size, "the file ends right after its last entry, without the zeroed space Badger leaves: it was cut short")
		}
		return st, nil
	}
	// Non-zero bytes follow the point where Badger's replay ends.
	if !current {
		return bad(st.end, "%d bytes follow the end of its replay at %d, in a log Badger had finished writing", dataEnd-st.end, st.end)
	}
	if w.broken != "" {
		return bad(int64(w.stop), "the replay stops at %s", w.broken)
	}
	p := w.stop
	// The torn write: the complete entries of the open transaction, then
	// one entry cut short (its bytes past the cut still zero), then zeroes.
	tornEnd := p + maxEntryHeader
	if _, klen, vlen, hlen, ok := decodeHeader(data, p); ok && klen <= maxKeySize {
		if n := uint64(p) + uint64(hlen) + klen + vlen + crc32.Size; n <= uint64(st.size) {
			tornEnd = int(n)
		} else {
			return bad(int64(p), "the entry at %d runs past the end of the file: it was cut short", p)
		}
	}
	switch {
	case dataEnd > int64(tornEnd):
		return bad(int64(p), "the entry at %d does not decode or fails its CRC, and %d bytes of log follow it", p, dataEnd-int64(tornEnd))
	case dataEnd >= st.size:
		return bad(int64(p), "the file ends inside the entry at %d, without the zeroed space Badger leaves: it was cut short", p)
	}
	if wal {
		if c := findCommit(data, w.end, int(dataEnd)); c >= 0 {
			return bad(int64(p), "the entry at %d fails its CRC, and a complete transaction follows it at %d", p, c)
		}
		isCommit := data[p] == bitFinTxn || bytes.HasPrefix(data[min(p+5, len(data)):], txnKey)
		if w.openTs != 0 && isCommit {
			// The open transaction's commit entry is known byte for byte,
			// and a crash interrupts its copy into the mapped log after a
			// prefix (a process's stores land in order; a page written
			// back alone ends at a page boundary): what is there must be
			// a prefix of it, zeroes after.
			want := finEntry(w.openTs)
			got := data[p:min(p+len(want), len(data))]
			k := 0
			for k < len(got) && got[k] == want[k] {
				k++
			}
			for i := k; i < len(got); i++ {
				if got[i] != 0 {
					return bad(int64(p+k), "the commit entry at %d has a changed byte at %d (not a write cut short)", p, p+k)
				}
			}
		}
	}
	st.torn = dataEnd - st.end
	return st, nil
}

// lastNonZero returns the offset of the last non-zero byte of the file
// (whose contents are data), or -1. It skips the holes of a sparse file
// with SEEK_DATA/SEEK_HOLE where the filesystem supports them: Badger's
// logs are preallocated to twice their size and mostly holes.
func lastNonZero(f *os.File, data []byte) int {
	end := len(data)
	if e, ok := dataExtentsEnd(f, int64(len(data))); ok {
		end = int(e)
	}
	for end > 0 {
		start := max(end-64<<10, 0)
		chunk := data[start:end]
		if i := lastNonZeroIn(chunk); i >= 0 {
			return start + i
		}
		end = start
	}
	return -1
}

func lastNonZeroIn(b []byte) int {
	for len(b) >= 8 {
		if binary.NativeEndian.Uint64(b[len(b)-8:]) != 0 {
			break
		}
		b = b[:len(b)-8]
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}

// dataExtentsEnd returns the end of the file's last data extent.
func dataExtentsEnd(f *os.File, size int64) (int64, bool) {
	const seekData, seekHole = 3, 4
	var end, off int64
	for off < size {
		d, err := syscall.Seek(int(f.Fd()), off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break
		}
		if err != nil {
			return 0, false
		}
		h, err := syscall.Seek(int(f.Fd()), d, seekHole)
		if err != nil {
			return 0, false
		}
		end, off = h, h
	}
	return min(end, size), true
}

// logEnds is the record of where Badger's replay cut each log it
// replayed: such a log ends at its last entry, which would otherwise look
// like a log cut short by damage. It is kept in logEndsFile in the data
// directory, rewritten (atomically) before Badger opens when Badger is
// about to cut a log — after a crash; a clean Close leaves no memtable log
// and the value log already cut, so no write, and no fsync that would
// wait for the writeback of everything written before.
type logEnds map[string]logEnd

// logEnd is where Badger cut one log, and which file that was (logState.id);
// for a memtable log, lastTs is the last version it held then (0 in records
// of version 2), which tells, should a kill leave the log emptied during the
// Open that replays it, that the tables hold what it held (leftoverLog).
type logEnd struct {
	end    int64
	id     string
	lastTs uint64
}

const logEndsFile = "REQUESTAGENT-LOGENDS"

// The record's first line: version 3 adds lastTs; version 2 is still read.
const (
	logEndsMagic   = "requestagent log ends v3"
	logEndsMagicV2 = "requestagent log ends v2"
)

// readLogEnds reads the record; a missing one is empty. A record that
// does not parse is reported: without it, replayed logs would be taken
// for damaged ones.
func readLogEnds(dir string) (logEnds, error) {
	ends := logEnds{}
	b, err := os.ReadFile(filepath.Join(dir, logEndsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ends, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || sc.Text() != logEndsMagic && sc.Text() != logEndsMagicV2 {
		return nil, fmt.Errorf("%s: not a log-ends record", logEndsFile)
	}
	fields := 4
	if sc.Text() == logEndsMagicV2 {
		fields = 3
	}
	complete := false
	for sc.Scan() {
		line := sc.Text()
		if line == "end" {
			complete = true
			break
		}
		f := strings.Fields(line)
		if len(f) != fields {
			return nil, fmt.Errorf("%s: bad line %q", logEndsFile, line)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 || strings.ContainsRune(f[0], '/') {
			return nil, fmt.Errorf("%s: bad line %q", logEndsFile, line)
		}
		e := logEnd{end: n, id: f[2]}
		if fields == 4 {
			if e.lastTs, err = strconv.ParseUint(f[3], 10, 64); err != nil {
				return nil, fmt.Errorf("%s: bad line %q", logEndsFile, line)
			}
		}
		ends[f[0]] = e
	}
	if !complete {
		return nil, fmt.Errorf("%s: cut short", logEndsFile)
	}
	return ends, nil
}

// writeLogEnds replaces the record atomically: a temporary file, synced,
// renamed over the old one, and the directory synced.
func writeLogEnds(dir string, ends logEnds) error {
	names := make([]string, 0, len(ends))
	for n := range ends {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(logEndsMagic + "\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%s %d %s %d\n", n, ends[n].end, ends[n].id, ends[n].lastTs)
	}
	b.WriteString("end\n")
	return writeAtomic(dir, logEndsFile, b.String())
}

// writeAtomic replaces dir's file name with content atomically: a
// temporary file, synced, renamed over the old one, and the directory
// synced.
func writeAtomic(dir, name, content string) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs the directory, so that a rename or removal in it lasts.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// logFiles lists the data directory's logs with the given extension
// (".mem", ".vlog"), sorted by file id.
func logFiles(dir, ext string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type named struct {
		id   uint64
		name string
	}
	var out []named
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ext) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(n, ext), 10, 32)
		if err != nil {
			continue // Badger would refuse it itself.
		}
		out = append(out, named{id, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	names := make([]string, len(out))
	for i, n := range out {
		names[i] = n.name
	}
	return names, nil
}

func lastName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1]
}

// vlogID returns the file id of a value log name ("000003.vlog").
func vlogID(name string) uint32 {
	id, _ := strconv.ParseUint(strings.TrimSuffix(name, ".vlog"), 10, 32)
	return uint32(id)
}

// dirCheck is the outcome of checkDir.
type dirCheck struct {
	logs []logState // every log checked, .mem first
	// damaged are the logs with damage, and lostValues the replayed keys
	// whose value a value log no longer holds.
	damaged    []logState
	lostValues []valuePtr
	lostWhy    []string
	ends       logEnds // the record to write before Badger opens
	recorded   logEnds // the record found
	replay     int64   // bytes of memtable log Badger will replay (and flush)
	closing    bool    // closingFile is there
	memSizes   []int64 // memSizesFile's sizes
}

// checkDir checks every memtable log and the newest value log of dir;
// memTableSize is Badger's MemTableSize.
func checkDir(dir string, memTableSize int64) (dirCheck, error) {
	var c dirCheck
	if err := checkManifest(dir); err != nil {
		return c, err
	}
	sizes, err := readMemSizes(dir)
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v; move it aside to check the logs without it", ErrCorrupt, filepath.Join(dir, memSizesFile), err)
	}
	c.memSizes = sizes
	prealloc := []int64{2 * memTableSize}
	for _, n := range sizes {
		prealloc = append(prealloc, 2*n)
	}
	recorded, err := readLogEnds(dir)
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v; move it aside to check the logs without it", ErrCorrupt, filepath.Join(dir, logEndsFile), err)
	}
	mems, err := logFiles(dir, ".mem")
	if err != nil {
		return c, err
	}
	vlogs, err := logFiles(dir, ".vlog")
	if err != nil {
		return c, err
	}
	for i, name := range mems {
		st, err := checkLog(filepath.Join(dir, name), i == len(mems)-1, recorded[name], true, prealloc)
		if err != nil {
			return c, err
		}
		c.logs = append(c.logs, st)
		if st.damage == "" {
			c.replay += st.end - logHeaderSize
		}
	}
	closingTs, closing, err := readClosing(dir)
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v; move it aside to check the logs without it", ErrCorrupt, filepath.Join(dir, closingFile), err)
	}
	c.closing = closing
	tables := tablesMax{dir: dir}
	for i := range c.logs {
		if c.logs[i].empty {
			if why := leftoverLog(c.logs, i, closingTs, closing, recorded, &tables); why != "" {
				c.logs[i].damage, c.logs[i].at, c.logs[i].leftover = "", -1, why
			}
		}
	}
	vlogEnd := map[uint32]int64{} // value log id → bytes Badger will keep
	for i, name := range vlogs {
		if i < len(vlogs)-1 {
			// Badger finished writing it and cut it at its end; it is
			// not read again here (its values are checked on every read,
			// VerifyValueChecksum), only its length against the record.
			st, err := statLog(filepath.Join(dir, name))
			if err != nil {
				return c, err
			}
			if r := recorded[name]; r.id == st.id && st.size < r.end {
				st.damage, st.at = fmt.Sprintf("the file is %d bytes, shorter than the %d Badger kept when it last replayed it", st.size, r.end), st.size
			}
			c.logs = append(c.logs, st)
			vlogEnd[vlogID(name)] = st.end
			continue
		}
		st, err := checkLog(filepath.Join(dir, name), true, recorded[name], false, nil)
		if err != nil {
			return c, err
		}
		c.logs = append(c.logs, st)
		vlogEnd[vlogID(name)] = st.end
	}
	c.ends, c.recorded = logEnds{}, recorded
	for _, st := range c.logs {
		if st.damage != "" {
			c.damaged = append(c.damaged, st)
		}
		// Badger's replay cuts every memtable log and the newest value
		// log at st.end (the older value logs it leaves alone). Keep the
		// records of the files still there, add those Badger will cut.
		if r, ok := recorded[st.name]; ok && r.id == st.id && st.id != "" {
			c.ends[st.name] = r
		}
		replayed := strings.HasSuffix(st.name, ".mem") || st.name == lastName(vlogs)
		if replayed && st.id != "" && st.end < st.size {
			c.ends[st.name] = logEnd{end: st.end, id: st.id, lastTs: st.lastTs}
		}
	}
	for _, st := range c.logs {
		for _, p := range st.ptrs {
			end, ok := vlogEnd[p.fid]
			if !ok {
				// Value-log GC deletes a file only after rewriting its
				// live values; a pointer into a deleted one is stale.
				continue
			}
			if int64(p.end) > end {
				c.lostValues = append(c.lostValues, p)
				c.lostWhy = append(c.lostWhy, fmt.Sprintf("%s: a value written at %06d.vlog offset %d (%d bytes) that the value log, kept up to %d, no longer holds", st.name, p.fid, p.offset, p.end-p.offset, end))
			}
		}
	}
	return c, nil
}

// leftoverLog says why the empty memtable log mems[i] (mems are the
// memtable logs, by file id) lost nothing acknowledged, or "" if that
// cannot be shown (doc.go, "Corruption", states the rule and why it is
// sound). Badger empties a flushed memtable's log and then removes it
// (ristretto z.MmapFile.Delete): a kill in between leaves it empty, its
// entries in a level-0 table. Badger flushes memtables in file-id order
// and commits transactions in ts order, one transaction within one
// memtable, so a memtable that was not flushed holds versions above every
// table's. It is shown flushed when the tables, or the older memtable logs
// still to be replayed, hold a version at least as high as the last one it
// could have held: the one before the first transaction of a newer
// memtable log; or, for the newest log, the last version the store had
// when its Close began (closingFile); or, failing both, the last version
// it held when the Open that replayed it began (logEnds: a kill while that
// Open flushed it, before the newer log's first transaction).
func leftoverLog(mems []logState, i int, closingTs uint64, closing bool, recorded logEnds, tables *tablesMax) string {
	var bound uint64
	var basis string
	found := false
	for j := i + 1; j < len(mems) && strings.HasSuffix(mems[j].name, ".mem"); j++ {
		if mems[j].firstTs != 0 {
			bound, found = mems[j].firstTs-1, true
			basis = fmt.Sprintf("the last before %s's first transaction", mems[j].name)
			break
		}
	}
	if !found && closing && (i == len(mems)-1 || !strings.HasSuffix(mems[i+1].name, ".mem")) {
		bound, found = closingTs, true
		basis = "the last the store had when its Close began"
	}
	if r := recorded[mems[i].name]; !found && r.lastTs != 0 {
		bound, found = r.lastTs, true
		basis = "the last it held when the Open that replayed it began (" + logEndsFile + ")"
	}
	if !found {
		return ""
	}
	var have uint64
	for _, st := range mems[:i] {
		have = max(have, st.lastTs)
	}
	v, err := tables.get()
	if err != nil {
		return ""
	}
	if have = max(have, v); have < bound {
		return ""
	}
	return fmt.Sprintf("empty, and the tables and older logs hold every version up to %d, %s: Badger had flushed it and was deleting it", bound, basis)
}

// tablesMax is the highest key version in the tables the MANIFEST lists,
// read once when first needed.
type tablesMax struct {
	dir  string
	done bool
	v    uint64
	err  error
}

func (t *tablesMax) get() (uint64, error) {
	if t.done {
		return t.v, t.err
	}
	t.done = true
	f, err := os.Open(filepath.Join(t.dir, "MANIFEST"))
	if err != nil {
		t.err = err
		return 0, err
	}
	opts := badger.DefaultOptions(t.dir)
	m, _, err := badger.ReplayManifestFile(f, opts.ExternalMagicVersion, opts)
	f.Close()
	if err != nil {
		t.err = err
		return 0, err
	}
	for id := range m.Tables {
		v, err := tableMaxVersion(table.NewFilename(id, t.dir))
		if err != nil {
			t.err = err
			return 0, err
		}
		t.v = max(t.v, v)
	}
	return t.v, nil
}

// closingFile marks a Close in progress (Store.Close): it holds the
// store's last version, and is removed once Badger's Close returns, or by
// the next Open once it has judged the logs.
const closingFile = "REQUESTAGENT-CLOSING"

const closingMagic = "requestagent closing v1"

// readClosing reads closingFile: the last version, and whether it is there.
func readClosing(dir string) (uint64, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, closingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	f := strings.Split(string(b), "\n")
	if len(f) != 4 || f[0] != closingMagic || f[2] != "end" || f[3] != "" {
		return 0, false, fmt.Errorf("%s: not a closing marker", closingFile)
	}
	v, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: bad version %q", closingFile, f[1])
	}
	return v, true, nil
}

// writeClosing writes closingFile atomically and durably.
func writeClosing(dir string, v uint64) error {
	return writeAtomic(dir, closingFile, fmt.Sprintf("%s\n%d\nend\n", closingMagic, v))
}

// removeSynced removes dir's file name, if there, and syncs dir.
func removeSynced(dir, name string) error {
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}

// memSizesFile lists the MemTableSizes the store was opened with, newest
// last: Badger creates a memtable log at twice the size in force, and a
// log of another size was cut (checkLog). A changed MemTableSize leaves
// the logs of the old one until they are flushed, so the old sizes are
// kept (the last maxMemSizes).
const memSizesFile = "REQUESTAGENT-MEMTABLES"

const (
	memSizesMagic = "requestagent memtable sizes v1"
	maxMemSizes   = 8
)

// readMemSizes reads memSizesFile; a missing one is empty.
func readMemSizes(dir string) ([]int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, memSizesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 3 || lines[0] != memSizesMagic || lines[len(lines)-2] != "end" || lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("%s: not a record of memtable sizes", memSizesFile)
	}
	var sizes []int64
	for _, l := range lines[1 : len(lines)-2] {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: bad line %q", memSizesFile, l)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// recordMemSize adds size to memSizesFile unless it is the newest there.
func recordMemSize(dir string, sizes []int64, size int64) error {
	if len(sizes) > 0 && sizes[len(sizes)-1] == size {
		return nil
	}
	sizes = append(slices.DeleteFunc(slices.Clone(sizes), func(n int64) bool { return n == size }), size)
	if len(sizes) > maxMemSizes {
		sizes = sizes[len(sizes)-maxMemSizes:]
	}
	var b strings.Builder
	b.WriteString(memSizesMagic + "\n")
	for _, n := range sizes {
		fmt.Fprintf(&b, "%d\n", n)
	}
	b.WriteString("end\n")
	return writeAtomic(dir, memSizesFile, b.String())
}

// checkManifest refuses a data directory that holds Badger's tables or
// logs but no MANIFEST. Badger creates the MANIFEST before any other file
// and replaces it only by a rename (manifest.go, helpRewrite), so it is
// never missing from a store Badger wrote; without it Badger would start
// an empty store and write its first table over 000001.sst.
func checkManifest(dir string) error {
	_, err := os.Stat(filepath.Join(dir, "MANIFEST"))
	if !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or Badger reports why it cannot read it
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var found []string
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".sst", ".mem", ".vlog":
			found = append(found, e.Name())
		}
	}
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is missing, and the directory holds %d of Badger's tables and logs (%s): "+
		"Badger would start an empty store over them. Restore the data directory from a backup",
		ErrCorrupt, filepath.Join(dir, "MANIFEST"), len(found), strings.Join(found[:min(len(found), 3)], ", "))
}

// statLog returns the size and id of a log that is not read.
func statLog(path string) (logState, error) {
	st := logState{name: filepath.Base(path), at: -1}
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, err
	}
	st.size, st.end = fi.Size(), fi.Size()
	var h [logHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err == nil {
		st.id = fmt.Sprintf("%x", h[8:])
	}
	return st, nil
}

// newRecords reports whether ends holds a record that recorded lacks (a
// record dropped, of a file gone, needs no write: its id keeps it from
// applying to a later file of the same name).
func newRecords(ends, recorded logEnds) bool {
	for name, e := range ends {
		if recorded[name] != e {
			return true
		}
	}
	return false
}

// corruptError is the one-line ErrCorrupt of a damaged log; more says
// what else was found (and logged).
func corruptError(dir string, st logState, more string) error {
	return fmt.Errorf("%w: %s at offset %d: %s%s; Badger would silently drop what follows. "+
		"Restore the data directory from a backup, or start once with --force-recover (storage.Config.ForceRecover) to drop it",
		ErrCorrupt, filepath.Join(dir, st.name), st.at, st.damage, more)
}
