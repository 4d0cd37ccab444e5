package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chorusledger/chorus/internal/kv"
)

// Block bodies live in append-only segment files, one directory per
// channel inside the database's directory (ADR 0007):
//
//	<db dir>/blocks/<channel>/00000000.blk, 00000001.blk, ...
//
// A segment is a sequence of records, each
//
//	uint32be(length) ‖ uint32be(CRC-32C of the block) ‖ the block as stored
//
// and a new segment starts when the next record would take the current one
// past maxBytes. Under each block's key the database keeps a locator,
//
//	0xFF ‖ uint32be(segment) ‖ uint64be(offset of the record) ‖ uint32be(length)
//
// 0xFF cannot begin a marshalled block (it would be field 31 with wire
// type 7, which does not exist), so a block stored inline under its key,
// as builds before segment files did, still reads as it is.
//
// Durability: Append writes the record and syncs the segment before it
// commits the batch that holds the locator, so a locator never reaches the
// disk before the bytes it points at. A crash may leave bytes beyond the
// last indexed record (or whole segments after it); Open forgets them and
// the next append overwrites them.
const (
	locatorTag         = 0xff
	locatorSize        = 1 + 4 + 8 + 4
	recordHeaderSize   = 8
	segmentSuffix      = ".blk"
	blocksDirName      = "blocks"
	defaultSegmentSize = 64 << 20
	// maxOpenSegments bounds the segments kept open for reading: a peer
	// catching up reads every segment once, and a long chain has
	// thousands.
	maxOpenSegments = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// locator says where a block's record sits.
type locator struct {
	segment uint32
	offset  uint64
	length  uint32
}

func (l locator) encode() []byte {
	b := make([]byte, 1, locatorSize)
	b[0] = locatorTag
	b = binary.BigEndian.AppendUint32(b, l.segment)
	b = binary.BigEndian.AppendUint64(b, l.offset)
	return binary.BigEndian.AppendUint32(b, l.length)
}

// end is the offset just past the record.
func (l locator) end() int64 { return int64(l.offset) + recordHeaderSize + int64(l.length) }

// isLocator reports whether a stored block value is a locator rather than
// a block stored inline.
func isLocator(v []byte) bool { return len(v) > 0 && v[0] == locatorTag }

func decodeLocator(v []byte) (locator, error) {
	if len(v) != locatorSize || v[0] != locatorTag {
		return locator{}, fmt.Errorf("%w: block locator of %d bytes", ErrCorrupt, len(v))
	}
	loc := locator{
		segment: binary.BigEndian.Uint32(v[1:]),
		offset:  binary.BigEndian.Uint64(v[5:]),
		length:  binary.BigEndian.Uint32(v[13:]),
	}
	if loc.offset > math.MaxInt64-recordHeaderSize-math.MaxUint32 {
		return locator{}, fmt.Errorf("%w: block locator offset %d out of range", ErrCorrupt, loc.offset)
	}
	return loc, nil
}

// segments is one channel's segment files. Reads may run concurrently;
// append, position and close belong to the ledger's single appender.
type segments struct {
	fs       kv.FS
	root     string // the database directory
	dir      string // root/blocks/<channel>
	readOnly bool
	maxBytes int64

	mu      sync.Mutex
	readers map[uint32]*segmentReader // open for reading, by segment number
	tick    uint64                    // counts reader uses, for eviction
	closed  bool                      // after close, readers are not kept

	w    kv.File // the segment being appended to, once opened
	wseg uint32
	woff int64
}

// blocksRoot is the directory holding every channel's segment directory.
func blocksRoot(db *kv.DB) string { return db.FS().PathJoin(db.Dir(), blocksDirName) }

func newSegments(db *kv.DB, channel string) *segments {
	fs := db.FS()
	return &segments{
		fs:       fs,
		root:     db.Dir(),
		dir:      fs.PathJoin(blocksRoot(db), channelDirName(channel)),
		readOnly: db.ReadOnly(),
		maxBytes: defaultSegmentSize,
		readers:  map[uint32]*segmentReader{},
	}
}

// channelDirName is the channel's directory name: the name itself when it
// is made of letters, digits, '.', '_' and '-' (as Fabric's channel names
// are), otherwise "%" and the name in hex, which no plain name can equal.
func channelDirName(channel string) string {
	plain := channel != "." && channel != ".." && strings.IndexFunc(channel, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) < 0
	if plain {
		return channel
	}
	return "%" + hex.EncodeToString([]byte(channel))
}

func segmentName(n uint32) string { return fmt.Sprintf("%08d%s", n, segmentSuffix) }

// list returns the numbers of the segment files present, ascending.
func (s *segments) list() ([]uint32, error) {
	names, err := s.fs.List(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list block segments in %s: %w", s.dir, err)
	}
	var out []uint32
	for _, name := range names {
		base, ok := strings.CutSuffix(name, segmentSuffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 32)
		if err != nil || segmentName(uint32(n)) != name {
			continue
		}
		out = append(out, uint32(n))
	}
	slices.Sort(out)
	return out, nil
}

// position sets where the next record goes: just after last, the locator
// of the last block, or at the start of segment 0 when no block is in a
// segment (an empty chain, or one whose blocks are all inline). Segments
// after that one hold nothing indexed (an append that crashed before its
// batch committed) and are removed, unless the database is read-only.
func (s *segments) position(last *locator) error {
	s.wseg, s.woff = 0, 0
	if last != nil {
		s.wseg, s.woff = last.segment, last.end()
	}
	if s.readOnly {
		return nil
	}
	present, err := s.list()
	if err != nil {
		return err
	}
	for _, n := range present {
		if last != nil && n <= last.segment {
			continue
		}
		if err := s.fs.Remove(s.fs.PathJoin(s.dir, segmentName(n))); err != nil {
			return fmt.Errorf("remove unindexed block segment %s: %w", segmentName(n), err)
		}
	}
	return nil
}

// append writes raw as the next record, syncs it, and returns its locator.
func (s *segments) append(raw []byte) (locator, error) {
	if s.readOnly {
		return locator{}, errors.New("append to a read-only database")
	}
	if len(raw) > math.MaxUint32 {
		return locator{}, fmt.Errorf("block of %d bytes exceeds a segment record's limit", len(raw))
	}
	size := recordHeaderSize + int64(len(raw))
	if s.woff > 0 && s.woff+size > s.maxBytes {
		if err := s.closeWriter(); err != nil {
			return locator{}, err
		}
		s.wseg, s.woff = s.wseg+1, 0
	}
	if s.w == nil {
		if err := s.openWriter(); err != nil {
			return locator{}, err
		}
	}
	var hdr [recordHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(raw)))
	binary.BigEndian.PutUint32(hdr[4:], crc32.Checksum(raw, castagnoli))
	name := segmentName(s.wseg)
	if _, err := s.w.WriteAt(hdr[:], s.woff); err != nil {
		return locator{}, fmt.Errorf("write block segment %s: %w", name, err)
	}
	if _, err := s.w.WriteAt(raw, s.woff+recordHeaderSize); err != nil {
		return locator{}, fmt.Errorf("write block segment %s: %w", name, err)
	}
	if err := s.w.SyncData(); err != nil {
		return locator{}, fmt.Errorf("sync block segment %s: %w", name, err)
	}
	loc := locator{segment: s.wseg, offset: uint64(s.woff), length: uint32(len(raw))}
	s.woff += size
	return loc, nil
}

// openWriter opens the segment to append to. A segment started afresh is
// created (emptying whatever a crashed append left under its name) and
// its directory entry, and those of the directories above it up to the
// database's, are synced before any block can be indexed in it.
func (s *segments) openWriter() error {
	path := s.fs.PathJoin(s.dir, segmentName(s.wseg))
	if s.woff > 0 {
		f, err := s.fs.OpenReadWrite(path, kv.WriteCategory)
		if err != nil {
			return fmt.Errorf("open block segment: %w", err)
		}
		s.w = f
		return nil
	}
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create block segment directory: %w", err)
	}
	f, err := s.fs.Create(path, kv.WriteCategory)
	if err != nil {
		return fmt.Errorf("create block segment: %w", err)
	}
	for _, d := range []string{s.dir, s.fs.PathDir(s.dir), s.root} {
		if err := syncDir(s.fs, d); err != nil {
			f.Close()
			return err
		}
	}
	s.w = f
	return nil
}

func syncDir(fs kv.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func (s *segments) closeWriter() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return fmt.Errorf("close block segment %s: %w", segmentName(s.wseg), err)
	}
	return nil
}

// resolve returns the block a stored value holds: read from its segment
// when the value is a locator, the value itself when it is an inline block.
func (s *segments) resolve(v []byte) ([]byte, error) {
	if !isLocator(v) {
		return v, nil
	}
	rec, err := s.record(v)
	if err != nil {
		return nil, err
	}
	return rec[BlockHeadroom:], nil
}

// BlockHeadroom is how many bytes come before the block in the buffer
// Ledger.BlockBytesWithHeadroom returns: a record's header.
const BlockHeadroom = recordHeaderSize

// record returns the whole record a locator names: BlockHeadroom bytes of
// header, then the block.
func (s *segments) record(v []byte) ([]byte, error) {
	loc, err := decodeLocator(v)
	if err != nil {
		return nil, err
	}
	return s.readRecord(loc)
}

// readRecord returns a whole record, header and block, checking its
// length and checksum.
func (s *segments) readRecord(loc locator) ([]byte, error) {
	r, err := s.acquire(loc.segment)
	if err != nil {
		return nil, err
	}
	defer s.release(loc.segment, r)
	f := r.f
	name := segmentName(loc.segment)
	if loc.length > defaultSegmentSize {
		// A damaged locator must not make us allocate gigabytes.
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("stat block segment %s: %w", name, err)
		}
		if loc.end() > st.Size() {
			return nil, fmt.Errorf("%w: block segment %s of %d bytes cannot hold a record of %d bytes at offset %d", ErrCorrupt, name, st.Size(), loc.length, loc.offset)
		}
	}
	buf := make([]byte, recordHeaderSize+int(loc.length))
	n, err := f.ReadAt(buf, int64(loc.offset))
	if n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: block segment %s ends within the record at offset %d (%d of %d bytes)", ErrCorrupt, name, loc.offset, n, len(buf))
		}
		return nil, fmt.Errorf("read block segment %s: %w", name, err)
	}
	if got := binary.BigEndian.Uint32(buf); got != loc.length {
		return nil, fmt.Errorf("%w: block segment %s: the record at offset %d holds %d bytes, the index says %d", ErrCorrupt, name, loc.offset, got, loc.length)
	}
	body := buf[recordHeaderSize:]
	if want, got := binary.BigEndian.Uint32(buf[4:]), crc32.Checksum(body, castagnoli); got != want {
		return nil, fmt.Errorf("%w: block segment %s: the record at offset %d fails its checksum (CRC-32C %08x, recorded %08x)", ErrCorrupt, name, loc.offset, got, want)
	}
	return buf, nil
}

// segmentReader is a segment open for reading, shared by the reads in
// progress; an evicted one is closed when its last read ends.
type segmentReader struct {
	f    kv.File
	refs int
	used uint64
}

// acquire returns segment n open for reading; release it after the read.
func (s *segments) acquire(n uint32) (*segmentReader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.readers[n]
	if r == nil {
		f, err := s.fs.Open(s.fs.PathJoin(s.dir, segmentName(n)))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: block segment %s is missing from %s", ErrCorrupt, segmentName(n), s.dir)
		}
		if err != nil {
			return nil, fmt.Errorf("open block segment: %w", err)
		}
		r = &segmentReader{f: f}
		if !s.closed { // else kept by nobody: its release closes it
			s.readers[n] = r
			s.evictLocked(n)
		}
	}
	s.tick++
	r.refs++
	r.used = s.tick
	return r, nil
}

func (s *segments) release(n uint32, r *segmentReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.refs--
	if r.refs == 0 && s.readers[n] != r {
		r.f.Close() // evicted while in use, or opened after close
	}
}

// evictLocked forgets the least recently used readers beyond
// maxOpenSegments, keeping segment keep, and closes those not in use.
func (s *segments) evictLocked(keep uint32) {
	for len(s.readers) > maxOpenSegments {
		var victim uint32
		var oldest *segmentReader
		for n, r := range s.readers {
			if n != keep && (oldest == nil || r.used < oldest.used) {
				victim, oldest = n, r
			}
		}
		delete(s.readers, victim)
		if oldest.refs == 0 {
			oldest.f.Close()
		}
	}
}

// close closes every open file (a reader in use, when its read ends).
// Later reads open the segment they need and close it when done.
func (s *segments) close() error {
	err := s.closeWriter()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for n, r := range s.readers {
		delete(s.readers, n)
		if r.refs == 0 {
			err = errors.Join(err, r.f.Close())
		}
	}
	return err
}

// RemoveBlockFiles deletes a channel's block segments from db's directory.
// A node removing a channel calls it after the channel's keys are deleted;
// should it not get that far, RemoveOrphanBlockFiles removes them at the
// next start.
func RemoveBlockFiles(db *kv.DB, channel string) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	s := newSegments(db, channel)
	if err := s.fs.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("ledger: remove block segments of channel %s: %w", channel, err)
	}
	return nil
}

// RemoveOrphanBlockFiles deletes the segment directories of channels that
// have no ledger in db: what a node stopped between deleting a channel's
// keys and its files (RemoveBlockFiles) leaves behind. It returns the
// directories removed. A node calls it once at start, before opening its
// channels.
func RemoveOrphanBlockFiles(db *kv.DB) ([]string, error) {
	if db.ReadOnly() {
		return nil, nil
	}
	fs, root := db.FS(), blocksRoot(db)
	names, err := fs.List(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s: %w", root, err)
	}
	channels, err := Channels(db)
	if err != nil {
		return nil, err
	}
	keep := make(map[string]bool, len(channels))
	for _, ch := range channels {
		keep[channelDirName(ch)] = true
	}
	var removed []string
	for _, name := range names {
		if keep[name] {
			continue
		}
		if err := fs.RemoveAll(fs.PathJoin(root, name)); err != nil {
			return removed, fmt.Errorf("ledger: remove orphan block segments %s: %w", name, err)
		}
		removed = append(removed, name)
	}
	return removed, nil
}
