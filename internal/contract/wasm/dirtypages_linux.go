//go:build linux && (amd64 || arm64)

package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel dirty-page tracking for contract memories (ADR 0006).
//
// A tracked memory is an anonymous mapping of the memory's largest size,
// registered with a userfaultfd in write-protect mode with asynchronous
// resolution (UFFD_FEATURE_WP_ASYNC, Linux 6.7): the kernel resolves a
// write to a protected page itself, without a handler, by lifting the
// protection, which marks the page written. The PAGEMAP_SCAN ioctl on
// /proc/self/pagemap then lists the written pages. A reset copies those
// pages back from the initial state and protects them again: it touches
// the pages an invocation wrote, not the whole memory.
//
// The constants are the kernel's UAPI (include/uapi/linux/userfaultfd.h
// and fs.h); golang.org/x/sys does not define them.

const (
	uffdAPI                  = 0xAA
	uffdUserModeOnly         = 1
	uffdFeatureWPUnpopulated = 1 << 13
	uffdFeatureWPAsync       = 1 << 15
	uffdioAPI                = 0xC018AA3F // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister           = 0xC020AA00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioWriteProtect       = 0xC018AA06 // _IOWR(0xAA, 0x06, struct uffdio_writeprotect)
	uffdioRegisterModeWP     = 1 << 1
	uffdioWriteProtectModeWP = 1 << 0

	pagemapScan        = 0xC0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanWPMatching   = 1 << 0
	pmScanCheckWPAsync = 1 << 1
	pageIsWritten      = 1 << 1

	osPageSize = 4096
)

type uffdioAPIArg struct{ api, features, ioctls uint64 }

type uffdioRange struct{ start, len uint64 }

type uffdioRegisterArg struct {
	rng          uffdioRange
	mode, ioctls uint64
}

type uffdioWriteProtectArg struct {
	rng  uffdioRange
	mode uint64
}

type pageRegion struct{ start, end, categories uint64 }

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

// pagemap is /proc/self/pagemap, opened once for the process.
var pagemap = sync.OnceValues(func() (*os.File, error) { return os.Open("/proc/self/pagemap") })

// trackedMemory is a contract instance's linear memory whose written
// pages the kernel records. It implements wazero's experimental
// LinearMemory.
type trackedMemory struct {
	mapping []byte // the whole reservation: the memory's largest size
	size    uint64 // the memory's current size
	uffd    int
	armed   bool // writes since the last arm or restore are recorded
	regions [64]pageRegion

	// open holds, for each page that a restore left writable, 1 + the
	// number of restores since it last differed from the initial state;
	// 0 for a protected page. openPages counts the open ones.
	open      []uint8
	openPages int
	closing   []pageRegion // scratch: pages to protect again
}

// Pages an invocation writes are left writable after their restore
// (open) while invocations keep writing them. A write fault costs about a
// microsecond, and protecting a page again makes the kernel flush the
// translation caches of every thread of the process, which on a virtual
// machine costs far more: for the sample CreateAsset, which writes about
// 20 pages, the two together were half of the invocation. An open page is
// instead compared with the initial state at each restore (a 4 KiB read)
// and copied back when it differs; one that stayed unchanged through
// closeAfter restores is protected again, and at most maxOpenPages are
// open, so that an invocation that once wrote many pages does not leave
// every later restore comparing them.
const (
	closeAfter   = 32
	maxOpenPages = 128
	// maxClosingRuns is the most runs of pages one restore protects one
	// ioctl each; beyond it, one walk protects every page and closes all.
	maxClosingRuns = 16
)

// newTrackedMemory reserves max bytes (no physical memory until touched)
// and registers them for write tracking.
func newTrackedMemory(max uint64) (*trackedMemory, error) {
	max = (max + osPageSize - 1) &^ (osPageSize - 1)
	if max == 0 {
		max = osPageSize
	}
	if _, err := pagemap(); err != nil {
		return nil, err
	}
	b, err := unix.Mmap(-1, 0, int(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mmap of %d bytes: %w", max, err)
	}
	// Huge pages would make a written page 2 MiB to copy back.
	_ = unix.Madvise(b, unix.MADV_NOHUGEPAGE)
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		unix.Munmap(b)
		return nil, fmt.Errorf("userfaultfd: %w", errno)
	}
	t := &trackedMemory{mapping: b, uffd: int(fd)}
	api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync | uffdFeatureWPUnpopulated}
	if err := t.ioctl(uffdioAPI, unsafe.Pointer(&api)); err != nil {
		t.Free()
		return nil, fmt.Errorf("userfaultfd: asynchronous write protection (Linux 6.7 or later): %w", err)
	}
	reg := uffdioRegisterArg{rng: uffdioRange{uint64(uintptr(unsafe.Pointer(&b[0]))), max}, mode: uffdioRegisterModeWP}
	if err := t.ioctl(uffdioRegister, unsafe.Pointer(&reg)); err != nil {
		t.Free()
		return nil, fmt.Errorf("userfaultfd: registering for write protection: %w", err)
	}
	return t, nil
}

func (t *trackedMemory) ioctl(req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(t.uffd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// Reallocate implements experimental.LinearMemory: the memory grows in
// place, up to the reservation.
func (t *trackedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(t.mapping)) {
		return nil
	}
	t.size = size
	return t.mapping[:size:size]
}

// Free implements experimental.LinearMemory.
func (t *trackedMemory) Free() {
	if t.uffd >= 0 {
		unix.Close(t.uffd)
		t.uffd = -1
	}
	if t.mapping != nil {
		unix.Munmap(t.mapping)
		t.mapping = nil
	}
}

func (t *trackedMemory) base() uint64 { return uint64(uintptr(unsafe.Pointer(&t.mapping[0]))) }

// protect write-protects [off, off+n) of the memory.
func (t *trackedMemory) protect(off, n uint64) error {
	wp := uffdioWriteProtectArg{rng: uffdioRange{t.base() + off, n}, mode: uffdioWriteProtectModeWP}
	return t.ioctl(uffdioWriteProtect, unsafe.Pointer(&wp))
}

// arm write-protects the whole reservation: from now on every written page
// is recorded. The memory must hold the initial state.
func (t *trackedMemory) arm() error {
	if err := t.protect(0, uint64(len(t.mapping))); err != nil {
		return fmt.Errorf("userfaultfd: write-protecting: %w", err)
	}
	clear(t.open)
	t.openPages = 0
	t.armed = true
	return nil
}

// restore copies back from initial every page written since the memory
// was armed or last restored, and returns how many it copied. Pages it
// copies are left open (see closeAfter) or protected again. On an error
// the memory is in an unknown state and t is disarmed: the caller falls
// back to comparing every page.
//
// One walk of the page table lists the written pages, which include the
// open ones; protecting again the pages that close is an ioctl per run of
// them, or, when they are many, a second walk that protects every written
// page.
func (t *trackedMemory) restore(initial []byte) (pages int, err error) {
	if !t.armed {
		return 0, errors.New("dirty-page tracking is not armed")
	}
	if n := len(initial) / osPageSize; len(t.open) < n {
		t.open = append(t.open, make([]uint8, n-len(t.open))...)
	}
	base := t.base()
	t.closing = t.closing[:0]
	err = t.scan(base, base+uint64(len(initial)), false, func(r pageRegion) {
		for off := r.start - base; off < r.end-base; off += osPageSize {
			page, want := t.mapping[off:off+osPageSize], initial[off:off+osPageSize]
			p := off / osPageSize
			switch {
			case t.open[p] == 0: // written through a fault: it differs
				copy(page, want)
				pages++
				if t.openPages < maxOpenPages {
					t.open[p] = 1
					t.openPages++
				} else {
					t.close(off)
				}
			case !bytes.Equal(page, want):
				copy(page, want)
				pages++
				t.open[p] = 1
			case t.open[p] >= closeAfter:
				t.open[p] = 0
				t.openPages--
				t.close(off)
			default:
				t.open[p]++
			}
		}
	})
	if err == nil && len(t.closing) > 0 {
		err = t.protectClosing(base, uint64(len(initial)))
	}
	if err != nil {
		t.armed = false
	}
	return pages, err
}

// close records that the page at off must be protected again.
func (t *trackedMemory) close(off uint64) {
	if n := len(t.closing); n > 0 && t.closing[n-1].end == off {
		t.closing[n-1].end += osPageSize
		return
	}
	t.closing = append(t.closing, pageRegion{start: off, end: off + osPageSize})
}

// protectClosing protects the pages restore closed, [0, size) being the
// memory's extent.
func (t *trackedMemory) protectClosing(base, size uint64) error {
	if len(t.closing) <= maxClosingRuns {
		for _, r := range t.closing {
			if err := t.protect(r.start, r.end-r.start); err != nil {
				return fmt.Errorf("userfaultfd: write-protecting: %w", err)
			}
		}
		return nil
	}
	clear(t.open)
	t.openPages = 0
	return t.scan(base, base+size, true, func(pageRegion) {})
}

// scan calls found for each range of written pages in [start, end), and
// with protect write-protects them as it goes.
func (t *trackedMemory) scan(start, end uint64, protect bool, found func(pageRegion)) error {
	pm, err := pagemap()
	if err != nil {
		return err
	}
	flags := uint64(pmScanCheckWPAsync)
	if protect {
		flags |= pmScanWPMatching
	}
	for start < end {
		arg := pmScanArg{
			size: uint64(unsafe.Sizeof(pmScanArg{})), flags: flags, start: start, end: end,
			vec: uint64(uintptr(unsafe.Pointer(&t.regions[0]))), vecLen: uint64(len(t.regions)),
			categoryMask: pageIsWritten, returnMask: pageIsWritten,
		}
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, pm.Fd(), pagemapScan, uintptr(unsafe.Pointer(&arg)))
		if errno != 0 {
			return fmt.Errorf("PAGEMAP_SCAN: %w", errno)
		}
		for _, r := range t.regions[:n] {
			found(r)
		}
		if arg.walkEnd <= start {
			return errors.New("PAGEMAP_SCAN made no progress")
		}
		start = arg.walkEnd
	}
	return nil
}

// dirtyTrackingProbe checks once whether this kernel and process can
// track written pages, and says why not.
var dirtyTrackingProbe = sync.OnceValue(func() error {
	t, err := newTrackedMemory(16 * osPageSize)
	if err != nil {
		return err
	}
	defer t.Free()
	mem := t.Reallocate(16 * osPageSize)
	initial := make([]byte, len(mem))
	if err := t.arm(); err != nil {
		return err
	}
	mem[5*osPageSize+7] = 1
	pages, err := t.restore(initial)
	switch {
	case err != nil:
		return err
	case pages != 1 || mem[5*osPageSize+7] != 0:
		return fmt.Errorf("the kernel reported %d written pages where 1 was written", pages)
	}
	return nil
})
