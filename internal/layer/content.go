package layer

import (
	"encoding/binary"
	"sync"
)

// Content layout of file id:
//
//	bytes [0,8)   id, little-endian
//	bytes [8,16)  mix64(id ^ headerKey), little-endian: a check that the 8 bytes before are an ID
//	bytes [16,…)  pool[(start(id) + offset) mod poolSize]
//
// The pool is 4 MiB of pseudo-random bytes built once from a fixed seed, followed by a copy of its
// first Chunk bytes, so any window of up to Chunk bytes starting anywhere in the pool is one
// contiguous slice: Apply writes straight from it, without copying. Each file starts at its own
// byte offset in the pool, so files share no aligned 4 KiB block (nothing to deduplicate) and
// nothing compresses. A file larger than 4 MiB repeats with that period.
const (
	HeaderSize = 16
	poolSize   = 4 << 20
	poolMask   = poolSize - 1
	// Chunk is the largest single write Apply issues and the read size of Verify.
	Chunk     = 1 << 20
	headerKey = 0x5eedbe4c4f11e5
)

var pool = sync.OnceValue(func() []byte {
	p := make([]byte, poolSize+Chunk)
	r := newRNG(0x5eedbe4c_c0ffee)
	for i := 0; i < poolSize; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.next())
	}
	copy(p[poolSize:], p[:Chunk])
	return p
})

// header returns the 16-byte header of file id.
func header(id uint64) [HeaderSize]byte {
	var h [HeaderSize]byte
	binary.LittleEndian.PutUint64(h[0:], id)
	binary.LittleEndian.PutUint64(h[8:], mix64(id^headerKey))
	return h
}

// HeaderID decodes a 16-byte header; ok is false if b is not a valid header.
func HeaderID(b []byte) (id uint64, ok bool) {
	if len(b) < HeaderSize {
		return 0, false
	}
	id = binary.LittleEndian.Uint64(b)
	return id, binary.LittleEndian.Uint64(b[8:]) == mix64(id^headerKey)
}

func poolStart(id uint64) int64 { return int64(mix64(id) & poolMask) }

// window returns the content of file id at offset off (>= HeaderSize), at most n bytes (n <=
// Chunk), as a slice of the pool: callers must not modify it.
func window(id uint64, off int64, n int) []byte {
	pos := (poolStart(id) + off) & poolMask
	return pool()[pos : pos+int64(n)]
}

// Content fills p with the bytes of file id at offset off. It never fails: a file's content is
// defined at every offset, and its size is the caller's business.
func Content(id uint64, off int64, p []byte) {
	for len(p) > 0 {
		if off < HeaderSize {
			h := header(id)
			n := copy(p, h[off:])
			p, off = p[n:], off+int64(n)
			continue
		}
		n := copy(p, window(id, off, min(len(p), Chunk)))
		p, off = p[n:], off+int64(n)
	}
}
