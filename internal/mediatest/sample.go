package mediatest

import (
	"io"

	"github.com/wxmedia/wxmedia/pkg/media"
)

// magic are the first bytes media.Detect reads as each format.
var magic = map[media.Format][]byte{
	media.JPEG: {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00},
	media.PNG:  []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
	media.GIF:  []byte("GIF89a\x01\x00\x01\x00"),
	media.AMR:  []byte("#!AMR\n"),
	media.MP3:  []byte("ID3\x04\x00\x00\x00\x00\x00\x00"),
	media.MP4:  {0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2', 0, 0, 0, 0},
}

// Sample returns size bytes that media.Detect reads as f (at least its
// magic bytes, whatever size says), padded with a deterministic pattern so
// that a copy can be checked byte for byte.
func Sample(f media.Format, size int) []byte {
	r := newSampleReader(f, int64(size))
	b := make([]byte, r.size)
	io.ReadFull(r, b) // never fails: the reader holds exactly r.size bytes
	return b
}

// SampleReader streams the same bytes as Sample(f, size) without holding
// them: objects of any size for benchmarks.
func SampleReader(f media.Format, size int64) io.Reader { return newSampleReader(f, size) }

func newSampleReader(f media.Format, size int64) *sampleReader {
	m := magic[f]
	return &sampleReader{head: m, size: max(size, int64(len(m)))}
}

// sampleReader reads head, then the byte i%251 at each offset i.
type sampleReader struct {
	head []byte
	off  int64
	size int64
}

func (r *sampleReader) Read(p []byte) (int, error) {
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
	for i := range p[n:] {
		p[n+i] = byte((r.off + int64(n+i)) % 251)
	}
	r.off += int64(len(p))
	return len(p), nil
}
