// Package mediatest makes media files for tests and benchmarks: the right
// magic bytes for each format WeChat takes, padded to any size with
// deterministic bytes, so an upload can be checked byte for byte.
package mediatest

import (
	"io"

	"github.com/wxmedia/wxmedia/pkg/media"
)

var magic = map[media.Format][]byte{
	media.JPEG: {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00},
	media.PNG:  []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
	media.GIF:  []byte("GIF89a\x01\x00\x01\x00"),
	media.AMR:  []byte("#!AMR\n"),
	media.MP3:  []byte("ID3\x04\x00\x00\x00\x00\x00\x00"),
	media.MP4:  {0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2', 0, 0, 0, 0},
}

// File returns size bytes that media.Detect reads as f (at least the magic
// bytes, whatever size says).
func File(f media.Format, size int) []byte {
	m := magic[f]
	if size < len(m) {
		size = len(m)
	}
	b := make([]byte, size)
	copy(b, m)
	fill(b[len(m):], int64(len(m)))
	return b
}

// fill writes the pattern byte i%251 for each offset i.
func fill(b []byte, off int64) {
	for i := range b {
		b[i] = byte((off + int64(i)) % 251)
	}
}

// Reader streams the same bytes as File(f, size) without holding them.
func Reader(f media.Format, size int64) io.Reader {
	m := magic[f]
	if size < int64(len(m)) {
		size = int64(len(m))
	}
	return &reader{head: m, size: size}
}

type reader struct {
	head []byte
	off  int64
	size int64
}

func (r *reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if int64(len(p)) > r.size-r.off {
		p = p[:r.size-r.off]
	}
	n := 0
	if r.off < int64(len(r.head)) {
		n = copy(p, r.head[r.off:])
	}
	fill(p[n:], r.off+int64(n))
	r.off += int64(len(p))
	return len(p), nil
}
