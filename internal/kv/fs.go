package kv

import (
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FS is the filesystem a database lives on.
type FS = vfs.FS

// File is an open file of an FS.
type File = vfs.File

// DiskWriteCategory and OpenOption are the types of FS's method
// parameters, for wrappers of an FS outside this package.
type (
	DiskWriteCategory = vfs.DiskWriteCategory
	OpenOption        = vfs.OpenOption
)

// WriteCategory labels the writes of files that are not Pebble's in the
// filesystem's disk statistics.
const WriteCategory vfs.DiskWriteCategory = "chorus"

// MemFS is an in-memory filesystem that can simulate a power cut.
type MemFS = vfs.MemFS

// DiskFS returns the operating system's filesystem.
func DiskFS() FS { return vfs.Default }

// NewCrashableMemFS returns an in-memory filesystem that remembers what has
// been synced, so that CrashClone can produce what a power cut would leave.
func NewCrashableMemFS() *MemFS { return vfs.NewCrashableMem() }

// CrashClone returns the filesystem as a power cut at this instant would
// leave it: every synced byte and directory entry, and nothing unsynced.
func CrashClone(fs *MemFS) *MemFS { return fs.CrashClone(vfs.CrashCloneCfg{}) }

// SyncPoint describes one durability barrier: a file or directory sync.
type SyncPoint struct {
	Seq  int    // 1 for the first sync observed, then 2, ...
	Path string // the file or directory synced
	Op   string // "sync", "sync-data" or "sync-to"
}

// SyncHooks wraps a filesystem and calls Before just before every sync and
// After just after it returns. Crash tests use Before to clone the
// filesystem as a power cut before the barrier would leave it. Hooks run
// on whichever goroutine syncs (Pebble syncs from background goroutines
// too), one at a time.
type SyncHooks struct {
	FS
	Before func(SyncPoint)
	After  func(SyncPoint)

	mu  sync.Mutex
	seq int
}

func (h *SyncHooks) next(path, op string) SyncPoint {
	h.seq++
	return SyncPoint{Seq: h.seq, Path: path, Op: op}
}

func (h *SyncHooks) around(path, op string, sync func() error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.next(path, op)
	if h.Before != nil {
		h.Before(p)
	}
	err := sync()
	if h.After != nil {
		h.After(p)
	}
	return err
}

func (h *SyncHooks) wrap(f vfs.File, path string, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	return &hookedFile{File: f, h: h, path: path}, nil
}

func (h *SyncHooks) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := h.FS.Create(name, c)
	return h.wrap(f, name, err)
}

func (h *SyncHooks) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := h.FS.Open(name, opts...)
	return h.wrap(f, name, err)
}

func (h *SyncHooks) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := h.FS.OpenReadWrite(name, c, opts...)
	return h.wrap(f, name, err)
}

func (h *SyncHooks) OpenDir(name string) (vfs.File, error) {
	f, err := h.FS.OpenDir(name)
	return h.wrap(f, name, err)
}

func (h *SyncHooks) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := h.FS.ReuseForWrite(oldname, newname, c)
	return h.wrap(f, newname, err)
}

// Unwrap gives Pebble the filesystem underneath.
func (h *SyncHooks) Unwrap() vfs.FS { return h.FS }

type hookedFile struct {
	vfs.File
	h    *SyncHooks
	path string
}

func (f *hookedFile) Sync() error {
	return f.h.around(f.path, "sync", f.File.Sync)
}

func (f *hookedFile) SyncData() error {
	return f.h.around(f.path, "sync-data", f.File.SyncData)
}

func (f *hookedFile) SyncTo(length int64) (bool, error) {
	var full bool
	err := f.h.around(f.path, "sync-to", func() error {
		var err error
		full, err = f.File.SyncTo(length)
		return err
	})
	return full, err
}
